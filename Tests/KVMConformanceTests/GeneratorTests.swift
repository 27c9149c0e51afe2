import Testing
@testable import KVMConformance
