import SpecParser

/// A small spec world that exists in no hardware: two CPUID features and a field, three
/// registers, two entry layouts, a 2-level paging format and a 3-level one that extends it.
/// It uses every construct of the spec language, so the positive tests can check each decoded value.
enum ToySpecs {
    static let features = """
        source: toy
        cpuid:
          features:
            toy1g: {leaf: 0x80000001, register: edx, bit: 26, title: Toy 1 GiB pages}
            toywide: {leaf: 7, subleaf: 0, register: ecx, bit: 16}
            toypse: {leaf: 0b1, register: edx, bit: 17}
          fields:
            toywidth: {leaf: 0x8000_0008, register: eax, bits: "7:0", title: Toy width}
        """

    static let registers = """
        registers:
          TCR:
            title: Toy control register
            width: 64
            msr: 0xC000_0080
            reserved: ["63:40", 39]
            fields:
              EN: {bit: 0, title: Enable paging}
              WP: {bit: 1}
              PROT: {bit: 2}
              KEYS: {bit: 3}
              NXE: {bit: 4}
              WIDE: {bit: 5, requires: toywide}
              MODE: {bits: "10:8", values: {two: 2, three: 3}}
              ID: {bits: "15:12", overlaps: [base]}
              base: {bits: "38:12", title: Root table}
          TERR:
            width: 32
            fields: {P: {bit: 0}, W: {bit: 1}, U: {bit: 2}, RSVD: {bit: 3}, I: {bit: 4}, PK: {bit: 5}}
          TKEYS:
            width: 32
            fields: {AD0: {bit: 0}, WD0: {bit: 1}}
        entry-layouts:
          toy-entry:
            size: 8
            fields:
              P: {bit: 0, title: Present}
              W: {bit: 1}
              U: {bit: 2}
              A: {bit: 5, role: accessed}
              D: {bit: 6, role: dirty}
              L: {bit: 7, title: Leaf}
              MT: {bits: "10:8"}
              address: {bits: "51:12", role: address}
              KEY: {bits: "62:59", role: protection-key}
              NX: {bit: 63}
          toy-root-entry:
            size: 4
            fields:
              P: {bit: 0}
              address: {bits: "31:12", role: address}
        """

    static let twoLevel = """
        paging-format: toy-2level
        title: A two-level toy format
        source: test
        family: guest
        enabled-when: TCR.EN && (TCR.MODE == 2 || TCR.MODE in [0]) && !TCR.WIDE
        address-bits: 30
        canonical: true
        physical-address-limit: 48
        entry: toy-entry
        root: TCR.base
        present: P || (MT != 0 && cpuid.toy1g)
        reserved:
          - above-maxphyaddr
          - "58:52"
          - {field: NX, when: "!TCR.NXE"}
          - {bits: "11", when: TCR.PROT}
        misconfigured: W && !P
        leaf-misconfigured:
          - MT in [2, 3, 7]
        accessed-dirty-when: TCR.PROT
        levels:
          - name: PDE
            index: "29:21"
            leaf-when: L && cpuid.toypse
            reserved: [{field: L, when: "!cpuid.toy1g"}]
            leaf-reserved: ["20:13"]
            table-reserved: ["10:8"]
            leaf-address:
              - {from: "51:21", to: "51:21"}
              - {from: "20:13", to: "59:52", requires: toypse}
          - {name: PTE, index: "20:12", entry: toy-entry}
        rights:
          writable: {all: W}
          user: {all: U}
          executable: {none: NX}
        protection-keys: {field: KEY, user-pages: TKEYS, supervisor-pages: TKEYS, page-is-user: user}
        faults:
          - when: access.user && !user
            why: user access to a supervisor page
          - when: access.write && !writable && (access.user || TCR.WP)
          - when: access.data && TCR.KEYS && (key.AD || (key.WD && access.write))
            sets: [PK]
            why: key denies
        report:
          register: TERR
          flags:
            P: "!fault.not-present"
            W: access.write
            U: access.user
            RSVD: fault.reserved
            I: access.fetch && TCR.NXE
            PK: fault.PK
        root-checks:
          - invalid-when: TCR.MODE == 7
            why: mode 7 is reserved
        root-reserved: ["11:6", above-maxphyaddr]
        """

    static let threeLevel = """
        paging-format: toy-3level
        extends: toy-2level
        title: The toy format with a third level
        enabled-when: TCR.EN && TCR.MODE == 3
        address-bits: 39
        levels-above:
          - {name: PDPTE, index: "38:30", reserved: [L, {above-maxphyaddr: true, when: TCR.PROT}]}
        """

    /// The files, by name.
    static let files: [(String, String)] = [
        ("toy/features.yaml", features), ("toy/registers.yaml", registers), ("toy/toy2.yaml", twoLevel),
        ("toy/toy3.yaml", threeLevel),
    ]

    /// The toy world, loaded and validated.
    static func load() -> SpecLoader.Result { SpecParserTests.load(files) }
}
