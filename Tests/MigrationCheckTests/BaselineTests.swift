import Foundation
import MigrationCheck
import SpecParser
import Testing

/// `specc cpu baseline` and `specc cpu compare`.
@Suite struct BaselineTests {
    func baselineOfAllFive(name: String = "Cluster-Baseline") throws -> (Baseline, SpecSet) {
        let specs = try realSpecs()
        let inputs = try contractModels.map { try model($0, in: specs) }
        return (try Baseline(of: inputs, name: name, candidates: specs.cpuModels.map(CPUModelDescription.init)), specs)
    }

    @Test func intersectionSmallestWidthsCommonVMX() throws {
        let (b, specs) = try baselineOfAllFive()
        let models = try contractModels.map { try model($0, in: specs) }
        let common = models.dropFirst().reduce(Set(models[0].features)) { $0.intersection($1.features) }
        #expect(b.model.features == common.sorted())
        #expect(b.model.maxPhysicalAddressBits == 46)
        #expect(b.model.linearAddressBits == 48)
        #expect(!b.model.has("la57"))
        #expect(b.model.vmx.eptPageWalkLengths == [4])
        #expect(b.model.vendor == "GenuineIntel")
        #expect(b.nearest?.name == "Skylake-Server")
        #expect(b.missingFeatures.sorted() == b.missingFeatures)
        #expect(b.yaml.contains("# Nearest named model: Skylake-Server"))
    }

    @Test(arguments: contractModels)
    func baselineFitsOnEveryInput(host: String) throws {
        let (b, specs) = try baselineOfAllFive()
        let c = ModelComparison(guest: b.model, host: try model(host, in: specs))
        #expect(c.fits, "\(c.text)")
        #expect(c.text.hasPrefix("Cluster-Baseline fits on \(host)"))
    }

    /// The YAML, saved next to the real specs, loads without a diagnostic and means the same model.
    @Test func baselineYAMLIsAValidSpec() throws {
        let (b, _) = try baselineOfAllFive()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("specc-baseline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("Cluster-Baseline.yaml")
        try b.yaml.write(to: file, atomically: true, encoding: .utf8)
        let result = SpecLoader().load(paths: [Paths.specs.path, dir.path])
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.isEmpty, "\(errors.map(\.description))")
        let specs = try #require(result.specs)
        let loaded = try model("cluster-baseline", in: specs)
        #expect(loaded == b.model)
        #expect(specs.cpuModels.count == contractModels.count + 1)
    }

    @Test func vendorsMustMatch() throws {
        let specs = try realSpecs()
        var amd = try model("Skylake-Server", in: specs)
        amd.vendor = "AuthenticAMD"
        amd.name = "Some-AMD"
        #expect(throws: InputError.self) {
            _ = try Baseline(of: [try model("Icelake-Server", in: specs), amd], name: "X", candidates: [])
        }
        #expect(throws: InputError.self) { _ = try Baseline(of: [], name: "X", candidates: []) }
    }

    @Test func compareListsWhatTheGuestHasAndTheHostLacks() throws {
        let specs = try realSpecs()
        let c = ModelComparison(
            guest: try model("Icelake-Server", in: specs), host: try model("Cascadelake-Server", in: specs))
        #expect(!c.fits)
        #expect(c.missingFeatures.contains("la57"))
        #expect(c.widthShortfalls.map(\.key) == ["maxphyaddr", "linear-address-bits"])
        #expect(c.widthShortfalls.map(\.guest) == [52, 57] && c.widthShortfalls.map(\.host) == [46, 48])
        #expect(c.missingVMX == ["ept-page-walk-5"])
        #expect(c.text.contains("maxphyaddr: Icelake-Server 52 > Cascadelake-Server 46"))
        let same = ModelComparison(
            guest: try model("GraniteRapids", in: specs), host: try model("GraniteRapids", in: specs))
        #expect(same.fits && same.missingFeatures.isEmpty)
    }

    @Test func unknownModelsAreInputErrorsNamingThem() throws {
        let specs = try realSpecs()
        do {
            _ = try specs.requireCPUModel("Icelake-Servr")
            Issue.record("no error")
        } catch let e as InputError {
            #expect(e.message.contains("'Icelake-Servr'") && e.message.contains("did you mean 'Icelake-Server'"))
        }
        #expect(try specs.requireCPUModel("icelake-server").name == "Icelake-Server")
    }
}
