// Implemented by the routing work: see RouterSpec in the issue notes.
