#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include "CSwitchyardLinux.h"
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <malloc.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <unistd.h>

extern char **environ;

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

int cswitchyard_spawn_worker(const char *path, char *const argv[], int channel, int shared, int log, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int rc;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log, 1);
    posix_spawn_file_actions_adddup2(&actions, log, 2);
    posix_spawn_file_actions_adddup2(&actions, channel, 3);
    if (shared >= 0) posix_spawn_file_actions_adddup2(&actions, shared, 4);
    posix_spawnattr_init(&attr);
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, path, &actions, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

int cswitchyard_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int cswitchyard_die_with_parent(void) {
    return prctl(PR_SET_PDEATHSIG, SIGKILL);
}

int cswitchyard_lower_priority(int nice_value) {
    struct sched_param param = { 0 };
    sched_setscheduler(0, SCHED_BATCH, &param);
    return setpriority(PRIO_PROCESS, 0, nice_value);
}

int cswitchyard_pipe2(int fds[2], int flags) {
    return pipe2(fds, flags);
}

static struct sigaction previous_fault_actions[NSIG];

static void fault_then_die(int signo, siginfo_t *info, void *context) {
    struct sigaction previous = previous_fault_actions[signo];
    if ((previous.sa_flags & SA_SIGINFO) && previous.sa_sigaction) {
        previous.sa_sigaction(signo, info, context);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN && previous.sa_handler) {
        previous.sa_handler(signo);
    }
    signal(signo, SIG_DFL);
    raise(signo);   /* blocked while this handler runs: delivered, fatally, when it returns */
}

int cswitchyard_make_fault_signals_fatal(void) {
    static const int signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = fault_then_die;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        if (sigaction(signals[i], &action, &previous_fault_actions[signals[i]]) != 0) return -1;
    }
    return 0;
}

int cswitchyard_shared_memory(const char *name, size_t size) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)size) != 0) { close(fd); return -1; }
    return fd;
}

