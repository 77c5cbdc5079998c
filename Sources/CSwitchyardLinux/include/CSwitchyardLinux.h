#ifndef SWITCHYARD_CLINUX_H
#define SWITCHYARD_CLINUX_H

/* What Glibc's Swift module does not export: epoll, eventfd, signalfd,
 * timerfd, accept4 (declared only under _GNU_SOURCE), thread naming, CPU
 * affinity. Thin wrappers only; all logic lives in Swift. */

#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>

int cswitchyard_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int cswitchyard_set_thread_name(const char *name);
int cswitchyard_get_thread_name(char *buf, size_t len);
int cswitchyard_pin_to_cpu(int cpu);
/* read(2), send(2) with MSG_NOSIGNAL and epoll_wait(2) as bare system
 * calls, inlined into the caller: the loop's threads are never cancelled, so
 * glibc's cancellation-point bookkeeping around each call (and the call into
 * syscall(3)) is work for nothing on the request path. They fail as libc
 * does: -1 with errno set. */
#if defined(__x86_64__)
static inline long cswitchyard_syscall6(long number, long a, long b, long c, long d, long e, long f) {
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile ("syscall"
                      : "=a"(result)
                      : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                      : "rcx", "r11", "memory");
    if ((unsigned long)result > -4096UL) { errno = (int)-result; return -1; }
    return result;
}
#else
static inline long cswitchyard_syscall6(long number, long a, long b, long c, long d, long e, long f) {
    return syscall(number, a, b, c, d, e, f);
}
#endif

static inline long cswitchyard_read(int fd, void *buffer, size_t count) {
    return cswitchyard_syscall6(SYS_read, fd, (long)buffer, (long)count, 0, 0, 0);
}

static inline long cswitchyard_send(int fd, const void *buffer, size_t count) {
    return cswitchyard_syscall6(SYS_sendto, fd, (long)buffer, (long)count, MSG_NOSIGNAL, 0, 0);
}

/* epoll_pwait with no signal mask is epoll_wait; newer architectures have only the former. */
static inline int cswitchyard_epoll_wait(int epfd, struct epoll_event *events, int capacity, int timeout_ms) {
    return (int)cswitchyard_syscall6(SYS_epoll_pwait, epfd, (long)events, capacity, timeout_ms, 0, 8);
}
/* Bytes a socket still holds unsent (SIOCOUTQ), or -1. */
int cswitchyard_unsent_bytes(int fd);

/* malloc serves blocks of `bytes` or more with their own mmap, so a large
 * buffer's memory goes back to the system when it is freed (glibc otherwise
 * raises that threshold as such blocks are freed, keeping them in the heap). */
int cswitchyard_mmap_blocks_from(size_t bytes);

/* Worker processes. spawn: posix_spawn (never fork: the daemon has threads)
 * of `path` with `argv`, `channel` as fd 3, `shared` (if >= 0) as fd 4,
 * `log` as stdout and stderr, stdin from /dev/null, an empty signal mask and
 * default dispositions. */
int cswitchyard_spawn_worker(const char *path, char *const argv[], int channel, int shared, int log, pid_t *pid);
/* An anonymous shared-memory file of `size` bytes (memfd), close-on-exec, or -1. */
int cswitchyard_shared_memory(const char *name, size_t size);
/* pipe2 (declared only under _GNU_SOURCE). */
int cswitchyard_pipe2(int fds[2], int flags);
/* A descriptor that becomes readable when `pid` exits (Linux 5.3+), or -1. */
int cswitchyard_pidfd_open(pid_t pid);
/* In a worker: SIGKILL when the parent thread dies. */
int cswitchyard_die_with_parent(void);
/* In a worker: a fault signal ends the process even when it was sent with
 * kill(2). The Swift runtime's crash reporter, installed for these signals,
 * runs first (the report lands in the daemon's log) and then returns; a real
 * fault would fault again, but a sent signal would not, so after it the
 * default action is restored and the signal raised again. */
int cswitchyard_make_fault_signals_fatal(void);
/* In a worker: nice 10 and SCHED_BATCH, so the loops win the CPU. */
int cswitchyard_lower_priority(int nice_value);

/* Signals are taken through signalfd: block them in every thread. */
int cswitchyard_block_signals(const int *signals, int count, sigset_t *out);

static inline uint32_t cswitchyard_EPOLLIN(void) { return EPOLLIN; }
static inline uint32_t cswitchyard_EPOLLOUT(void) { return EPOLLOUT; }
static inline uint32_t cswitchyard_EPOLLERR(void) { return EPOLLERR; }
static inline uint32_t cswitchyard_EPOLLHUP(void) { return EPOLLHUP; }
static inline uint32_t cswitchyard_EPOLLRDHUP(void) { return EPOLLRDHUP; }
static inline uint32_t cswitchyard_EPOLLEXCLUSIVE(void) { return EPOLLEXCLUSIVE; }
static inline uint32_t cswitchyard_EPOLLONESHOT(void) { return EPOLLONESHOT; }
static inline int cswitchyard_SOCK_NONBLOCK(void) { return SOCK_NONBLOCK; }
static inline int cswitchyard_SOCK_CLOEXEC(void) { return SOCK_CLOEXEC; }
static inline int cswitchyard_EFD_NONBLOCK(void) { return EFD_NONBLOCK; }
static inline int cswitchyard_EFD_CLOEXEC(void) { return EFD_CLOEXEC; }

#endif
