#define _GNU_SOURCE 1
#include "ckvm.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if CKVM_AVAILABLE

int ckvm_open(const char *path) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void ckvm_close(int fd) {
    if (fd >= 0) close(fd);
}

long ckvm_ioctl(int fd, unsigned long request, unsigned long argument) {
    long r = ioctl(fd, request, argument);
    return r < 0 ? -errno : r;
}

long ckvm_ioctl_ptr(int fd, unsigned long request, void *argument) {
    long r = ioctl(fd, request, argument);
    return r < 0 ? -errno : r;
}

struct kvm_run *ckvm_map_run(int vcpu_fd, size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
    return p == MAP_FAILED ? NULL : (struct kvm_run *)p;
}

void ckvm_unmap_run(struct kvm_run *run, size_t size) {
    if (run) munmap(run, size);
}

uint32_t ckvm_exit_reason(const struct kvm_run *run) { return run->exit_reason; }

void ckvm_exit_io(const struct kvm_run *run, uint16_t *port, uint8_t *direction, uint8_t *size, uint64_t *value) {
    *port = run->io.port;
    *direction = run->io.direction;
    *size = run->io.size;
    uint64_t v = 0;
    unsigned n = run->io.size < 8 ? run->io.size : 8;
    memcpy(&v, (const char *)run + run->io.data_offset, n);
    *value = v;
}

void ckvm_exit_mmio(const struct kvm_run *run, uint64_t *physical, uint32_t *length, uint8_t *is_write, uint64_t *data) {
    *physical = run->mmio.phys_addr;
    *length = run->mmio.len;
    *is_write = run->mmio.is_write;
    uint64_t v = 0;
    memcpy(&v, run->mmio.data, run->mmio.len < 8 ? run->mmio.len : 8);
    *data = v;
}

uint64_t ckvm_exit_detail(const struct kvm_run *run) {
    switch (run->exit_reason) {
    case KVM_EXIT_INTERNAL_ERROR: return run->internal.suberror;
    case KVM_EXIT_FAIL_ENTRY: return run->fail_entry.hardware_entry_failure_reason;
    default: return 0;
    }
}

int ckvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2 *entries, int capacity) {
    size_t bytes = sizeof(struct kvm_cpuid2) + (size_t)capacity * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = calloc(1, bytes);
    if (!c) return -ENOMEM;
    c->nent = (uint32_t)capacity;
    int r = ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
    if (r < 0) {
        r = -errno;
        free(c);
        return r;
    }
    memcpy(entries, c->entries, c->nent * sizeof(struct kvm_cpuid_entry2));
    r = (int)c->nent;
    free(c);
    return r;
}

int ckvm_set_cpuid(int vcpu_fd, const struct kvm_cpuid_entry2 *entries, int count) {
    size_t bytes = sizeof(struct kvm_cpuid2) + (size_t)count * sizeof(struct kvm_cpuid_entry2);
    struct kvm_cpuid2 *c = calloc(1, bytes);
    if (!c) return -ENOMEM;
    c->nent = (uint32_t)count;
    memcpy(c->entries, entries, (size_t)count * sizeof(struct kvm_cpuid_entry2));
    int r = ioctl(vcpu_fd, KVM_SET_CPUID2, c);
    r = r < 0 ? -errno : 0;
    free(c);
    return r;
}

int ckvm_set_xsave_u32(int vcpu_fd, unsigned component, uint32_t offset, uint32_t value) {
    // The legacy region of the standard XSAVE format is 512 bytes; the 64-byte XSAVE header
    // follows it and starts with XSTATE_BV (SDM Vol. 1 §13.4).
    enum { header_offset = 512 };
    struct kvm_xsave x;
    if (component >= 64 || offset + 4 > sizeof(x.region)) return -EINVAL;
    if (ioctl(vcpu_fd, KVM_GET_XSAVE, &x) < 0) return -errno;
    char *base = (char *)x.region;
    memcpy(base + offset, &value, 4);
    uint64_t bv;
    memcpy(&bv, base + header_offset, 8);
    bv |= (uint64_t)1 << component;
    memcpy(base + header_offset, &bv, 8);
    if (ioctl(vcpu_fd, KVM_SET_XSAVE, &x) < 0) return -errno;
    return 0;
}

// The timer signal's handler stops the vCPU this thread is running, if any.
static __thread struct kvm_run *volatile ckvm_running;

static void ckvm_timer_handler(int signo) {
    (void)signo;
    struct kvm_run *r = ckvm_running;
    if (r) r->immediate_exit = 1;
}

static pthread_once_t ckvm_handler_once = PTHREAD_ONCE_INIT;
static int ckvm_signal;

static void ckvm_install_handler(void) {
    ckvm_signal = SIGRTMIN + 3;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ckvm_timer_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    sigaction(ckvm_signal, &sa, NULL);
}

int ckvm_run_bounded(int vcpu_fd, struct kvm_run *run, uint32_t timeout_ms) {
    pthread_once(&ckvm_handler_once, ckvm_install_handler);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, ckvm_signal);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

    struct sigevent sev;
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = ckvm_signal;
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
#endif
    timer_t timer;
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) return -errno;
    struct itimerspec spec;
    memset(&spec, 0, sizeof(spec));
    spec.it_value.tv_sec = timeout_ms / 1000;
    spec.it_value.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
    // Keep firing until disarmed, in case one signal lands between the checks and the entry.
    spec.it_interval.tv_nsec = 50 * 1000000L;

    run->immediate_exit = 0;
    ckvm_running = run;
    if (timer_settime(timer, 0, &spec, NULL) < 0) {
        int e = errno;
        ckvm_running = NULL;
        timer_delete(timer);
        return -e;
    }
    int r = ioctl(vcpu_fd, KVM_RUN, 0);
    int e = errno;
    timer_delete(timer);
    ckvm_running = NULL;
    int fired = run->immediate_exit;
    run->immediate_exit = 0;
    if (r < 0) return (e == EINTR && fired) ? 1 : -e;
    return 0;
}

int ckvm_complete_pending(int vcpu_fd, struct kvm_run *run) {
    run->immediate_exit = 1;
    int r = ioctl(vcpu_fd, KVM_RUN, 0);
    int e = errno;
    run->immediate_exit = 0;
    if (r < 0 && e != EINTR) return -e;
    return 0;
}

#else

int ckvm_open(const char *path) { (void)path; return -ENOSYS; }
void ckvm_close(int fd) { (void)fd; }
long ckvm_ioctl(int fd, unsigned long request, unsigned long argument) {
    (void)fd; (void)request; (void)argument;
    return -ENOSYS;
}
long ckvm_ioctl_ptr(int fd, unsigned long request, void *argument) {
    (void)fd; (void)request; (void)argument;
    return -ENOSYS;
}
struct kvm_run *ckvm_map_run(int vcpu_fd, size_t size) { (void)vcpu_fd; (void)size; return NULL; }
void ckvm_unmap_run(struct kvm_run *run, size_t size) { (void)run; (void)size; }
uint32_t ckvm_exit_reason(const struct kvm_run *run) { (void)run; return 0; }
void ckvm_exit_io(const struct kvm_run *run, uint16_t *port, uint8_t *direction, uint8_t *size, uint64_t *value) {
    (void)run; *port = 0; *direction = 0; *size = 0; *value = 0;
}
void ckvm_exit_mmio(const struct kvm_run *run, uint64_t *physical, uint32_t *length, uint8_t *is_write, uint64_t *data) {
    (void)run; *physical = 0; *length = 0; *is_write = 0; *data = 0;
}
uint64_t ckvm_exit_detail(const struct kvm_run *run) { (void)run; return 0; }
int ckvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2 *entries, int capacity) {
    (void)kvm_fd; (void)entries; (void)capacity;
    return -ENOSYS;
}
int ckvm_set_cpuid(int vcpu_fd, const struct kvm_cpuid_entry2 *entries, int count) {
    (void)vcpu_fd; (void)entries; (void)count;
    return -ENOSYS;
}
int ckvm_set_xsave_u32(int vcpu_fd, unsigned component, uint32_t offset, uint32_t value) {
    (void)vcpu_fd; (void)component; (void)offset; (void)value;
    return -ENOSYS;
}
int ckvm_run_bounded(int vcpu_fd, struct kvm_run *run, uint32_t timeout_ms) {
    (void)vcpu_fd; (void)run; (void)timeout_ms;
    return -ENOSYS;
}
int ckvm_complete_pending(int vcpu_fd, struct kvm_run *run) { (void)vcpu_fd; (void)run; return -ENOSYS; }

#endif
