#if canImport(Glibc)
    import Glibc
#endif

/// A failure of a KVM operation: which operation, and the `errno` it returned.
///
/// ```swift
/// throw KVMError("KVM_SET_SREGS", errno: 22)   // "KVM_SET_SREGS failed: EINVAL (22)"
/// ```
public struct KVMError: Error, CustomStringConvertible, Sendable {
    /// The operation (`open /dev/kvm`, `KVM_CREATE_VM`, …).
    public var operation: String
    /// The error number, or 0 when the failure was not a system call's.
    public var errno: Int32
    /// Extra explanation.
    public var detail: String?

    /// Creates an error for `operation` with `errno`.
    public init(_ operation: String, errno: Int32, detail: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.detail = detail
    }

    /// `errno`'s symbolic name where it is a common one (`EINVAL`), else its number.
    public var errnoName: String {
        let names: [Int32: String] = [
            EPERM: "EPERM", ENOENT: "ENOENT", EINTR: "EINTR", EIO: "EIO", ENXIO: "ENXIO", EBADF: "EBADF",
            EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY",
            EEXIST: "EEXIST", ENODEV: "ENODEV", EINVAL: "EINVAL", ENOSPC: "ENOSPC", ENOSYS: "ENOSYS",
            E2BIG: "E2BIG", EOPNOTSUPP: "EOPNOTSUPP",
        ]
        return names[errno].map { "\($0) (\(errno))" } ?? "errno \(errno)"
    }

    /// `operation failed: EINVAL (22): detail`.
    public var description: String {
        var text = errno == 0 ? "\(operation) failed" : "\(operation) failed: \(errnoName)"
        if let detail { text += ": \(detail)" }
        return text
    }
}
