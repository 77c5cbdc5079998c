#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include "CSwitchyardLinux.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <malloc.h>

int cswitchyard_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return accept4(fd, addr, len, flags);
}

int cswitchyard_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = 0;
    return pthread_setname_np(pthread_self(), truncated);
}

int cswitchyard_get_thread_name(char *buf, size_t len) {
    return pthread_getname_np(pthread_self(), buf, len);
}

int cswitchyard_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

int cswitchyard_block_signals(const int *signals, int count, sigset_t *out) {
    sigemptyset(out);
    for (int i = 0; i < count; i++) sigaddset(out, signals[i]);
    return pthread_sigmask(SIG_BLOCK, out, NULL);
}

int cswitchyard_unsent_bytes(int fd) {
    int queued = 0;
    return ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : -1;
}

int cswitchyard_mmap_blocks_from(size_t bytes) {
    return mallopt(M_MMAP_THRESHOLD, (int)bytes);
}
