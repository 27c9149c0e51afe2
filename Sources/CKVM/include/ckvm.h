#ifndef SPECC_CKVM_H
#define SPECC_CKVM_H
// A thin C layer over <linux/kvm.h> for the KVM conformance runner: the ioctl request numbers
// (function-like macros Swift cannot import), ioctl itself (variadic), the unions of struct
// kvm_run, the flexible arrays of struct kvm_cpuid2, and a KVM_RUN bounded by a timer.
#include <stddef.h>
#include <stdint.h>

#if defined(__linux__) && __has_include(<linux/kvm.h>)
#include <linux/kvm.h>
#define CKVM_AVAILABLE 1

static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_TRANSLATE = KVM_TRANSLATE;
static const int CKVM_CAP_NR_MEMSLOTS = KVM_CAP_NR_MEMSLOTS;
static const int CKVM_CAP_IMMEDIATE_EXIT = KVM_CAP_IMMEDIATE_EXIT;
static const int CKVM_CAP_XSAVE = KVM_CAP_XSAVE;

/// Exit reasons the runner distinguishes.
static const uint32_t CKVM_EXIT_IO = KVM_EXIT_IO;
static const uint32_t CKVM_EXIT_MMIO = KVM_EXIT_MMIO;
static const uint32_t CKVM_EXIT_HLT = KVM_EXIT_HLT;
static const uint32_t CKVM_EXIT_SHUTDOWN = KVM_EXIT_SHUTDOWN;
static const uint32_t CKVM_EXIT_INTERNAL_ERROR = KVM_EXIT_INTERNAL_ERROR;
static const uint32_t CKVM_EXIT_FAIL_ENTRY = KVM_EXIT_FAIL_ENTRY;
static const uint32_t CKVM_EXIT_INTR = KVM_EXIT_INTR;
static const uint8_t CKVM_EXIT_IO_OUT = KVM_EXIT_IO_OUT;
#else
#define CKVM_AVAILABLE 0
struct kvm_run;
struct kvm_cpuid_entry2;
#endif

/// Opens /dev/kvm read-write (close-on-exec); returns the descriptor or -errno.
int ckvm_open(const char *path);
/// Closes a descriptor.
void ckvm_close(int fd);
/// ioctl with an integer argument; returns the result or -errno.
long ckvm_ioctl(int fd, unsigned long request, unsigned long argument);
/// ioctl with a pointer argument; returns the result or -errno.
long ckvm_ioctl_ptr(int fd, unsigned long request, void *argument);

/// Maps the vCPU's struct kvm_run; NULL on failure.
struct kvm_run *ckvm_map_run(int vcpu_fd, size_t size);
/// Unmaps it.
void ckvm_unmap_run(struct kvm_run *run, size_t size);

/// The exit reason of the last KVM_RUN.
uint32_t ckvm_exit_reason(const struct kvm_run *run);
/// KVM_EXIT_IO: port, direction, size and the first data byte (as a little-endian value).
void ckvm_exit_io(const struct kvm_run *run, uint16_t *port, uint8_t *direction, uint8_t *size, uint64_t *value);
/// KVM_EXIT_MMIO: guest-physical address, length, direction and data.
void ckvm_exit_mmio(const struct kvm_run *run, uint64_t *physical, uint32_t *length, uint8_t *is_write, uint64_t *data);
/// KVM_EXIT_INTERNAL_ERROR suberror, or KVM_EXIT_FAIL_ENTRY hardware reason.
uint64_t ckvm_exit_detail(const struct kvm_run *run);

/// KVM_GET_SUPPORTED_CPUID into `entries` (at most `capacity`); returns the count or -errno.
int ckvm_get_supported_cpuid(int kvm_fd, struct kvm_cpuid_entry2 *entries, int capacity);
/// KVM_SET_CPUID2 with `count` entries; returns 0 or -errno.
int ckvm_set_cpuid(int vcpu_fd, const struct kvm_cpuid_entry2 *entries, int count);

/// Writes a 32-bit value into XSAVE state component `component` at byte `offset` of the
/// standard-format XSAVE area (KVM_GET_XSAVE / KVM_SET_XSAVE) and marks the component present
/// in XSTATE_BV. Used for PKRU, which the emulator cannot load with WRPKRU. Returns 0 or -errno.
int ckvm_set_xsave_u32(int vcpu_fd, unsigned component, uint32_t offset, uint32_t value);

/// KVM_RUN, interrupted after `timeout_ms` milliseconds by a thread-directed timer signal that
/// also sets run->immediate_exit (so a signal that lands just before entry still stops it).
/// Returns 0 on an exit, 1 on a timeout, or -errno.
int ckvm_run_bounded(int vcpu_fd, struct kvm_run *run, uint32_t timeout_ms);
/// Re-enters KVM_RUN with immediate_exit set, so KVM completes a pending I/O or MMIO
/// instruction without running the guest further. Returns 0 or -errno.
int ckvm_complete_pending(int vcpu_fd, struct kvm_run *run);

#endif
