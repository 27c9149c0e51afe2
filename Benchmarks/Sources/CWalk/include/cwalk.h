// Hand-written x86 page walkers in the style of KVM's paging_tmpl.h, as the baseline the
// generated MMU is measured against. They perform the same checks as the generated walker for
// the states the benchmarks use: canonical address, bounds-checked entry loads, present bit,
// reserved bits per level (and per PS), EPT misconfigurations, rights folding, leaf detection,
// the permission check through a precomputed bitmap (KVM's permissions[]), protection keys,
// accessed/dirty updates with compare-and-exchange, and the physical address.
//
// Written for speed: per-level masks, the NX bit inverted so rights fold with one AND, the
// permission check a shift and an AND, A/D work only when some flag is missing.
#ifndef CWALK_H
#define CWALK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Flat physical memory starting at address 0.
typedef struct {
    uint8_t *base;
    uint64_t size;
} cw_memory;

/// Walk status.
enum {
    CW_OK = 0,
    CW_PAGE_FAULT = 1,        // error_code holds the #PF error code
    CW_GP = 2,                // non-canonical address
    CW_OUTSIDE = 3,           // a paging-structure entry lies outside memory
    CW_EPT_VIOLATION = 4,     // error_code holds the exit qualification
    CW_EPT_MISCONFIG = 5,
};

/// The result of a walk.
typedef struct {
    uint64_t physical;
    uint64_t page_size;
    uint64_t leaf;            // the leaf entry
    uint64_t error_code;      // #PF error code or EPT exit qualification
    uint64_t guest_physical;  // nested: the guest-physical address whose EPT walk faulted
    uint32_t status;
    uint32_t level;           // the level that mapped the page (0 = top)
    uint32_t rights;          // guest: x | w<<1 | u<<2; EPT: r | w<<1 | x<<2 | xu<<3
} cw_result;

/// Access classes: bit 0 write, 1 user (CPL 3 and not implicit), 2 fetch, 3 implicit supervisor.
enum { CW_ACC_WRITE = 1, CW_ACC_USER = 2, CW_ACC_FETCH = 4, CW_ACC_IMPLICIT = 8 };

/// IA-32e paging (4 or 5 levels), specialised to a control state like KVM's struct kvm_mmu.
typedef struct {
    uint64_t root;
    uint32_t levels;             // 4 or 5
    uint32_t va_bits;            // 48 or 57
    uint64_t rsvd[5][2];         // [level][PS]: reserved bits (level 0 = PTE)
    uint64_t leaf_mask[5];       // a present entry is a leaf when entry & leaf_mask != 0
    uint64_t addr_mask;          // bits 51:12
    uint64_t nx_xor;             // 1 << 63 when EFER.NXE: inverted NX folds with AND
    uint8_t permissions[16];     // [access class]: bit (x | w<<1 | u<<2) set = fault
    uint8_t pk_mask[16][2];      // [access class][page is user]: which of AD (1) / WD (2) fault
    uint32_t pk_reg[2];          // [page is user]: IA32_PKRS, PKRU
    uint32_t ad;                 // maintain accessed/dirty flags
    uint32_t id_flag;            // error code ID for fetches (SMEP || (PAE && NXE))
} cw_guest_mmu;

/// EPT (4 or 5 levels).
typedef struct {
    uint64_t root;
    uint32_t levels;
    uint32_t gpa_bits;           // 48 or 57
    uint64_t rsvd[5][2];         // [level][PS]
    uint64_t leaf_mask[5];
    uint64_t addr_mask;
    uint64_t present_mask;       // R | W | X (| XU with mode-based execute)
    uint16_t permissions[32];    // [r | w<<1 | x<<2 | guest-user<<3 | final<<4]: bit rights set = fault
    uint8_t bad_xwr;             // bit (entry & 7) set = misconfigured (any level)
    uint8_t bad_mt;              // bit MT set = misconfigured leaf
    uint32_t ad;                 // EPTP.AD
} cw_ept_mmu;

/// Builds a guest MMU from register values (as the generated PreparedFormat does from the specs).
void cw_guest_init(cw_guest_mmu *mmu, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer, uint64_t rflags,
                   uint32_t pkru, uint32_t pkrs, uint32_t max_phys_bits, bool pdpe1gb);

/// Builds an EPT MMU.
void cw_ept_init(cw_ept_mmu *mmu, uint64_t eptp, uint32_t max_phys_bits, bool execute_only, bool pde_2m,
                 bool pdpte_1g, bool mode_based_execute);

/// IA-32e walk of `va` for access class `acc` in `mem`.
uint32_t cw_walk_guest(const cw_guest_mmu *mmu, const cw_memory *mem, uint64_t va, uint32_t acc, cw_result *r);

/// EPT walk of guest-physical `gpa`; `acc` is r | w<<1 | x<<2 | guest-user<<3 | final<<4 (see above).
uint32_t cw_walk_ept(const cw_ept_mmu *mmu, const cw_memory *mem, uint64_t gpa, uint32_t acc, cw_result *r);

/// Nested walk: guest paging structures in guest-physical memory translated through EPT.
uint32_t cw_walk_nested(const cw_guest_mmu *guest, const cw_ept_mmu *ept, const cw_memory *mem, uint64_t va,
                        uint32_t acc, cw_result *r);

/// A direct-mapped TLB: linear page -> physical frame, rights and protection key, as Bochs keeps one,
/// tagged like the generated TLB: PCID (ignored for global pages), VPID and EPTP.
typedef struct {
    uint64_t tag;                // (linear page number << 1) | 1; 0 = empty
    uint64_t frame;              // physical address of the 4 KiB page
    uint64_t eptp;               // EPTP the translation was made through (0: no EPT)
    uint16_t pcid;
    uint16_t vpid;
    uint8_t rights;              // x | w<<1 | u<<2
    uint8_t key;
    uint8_t write_miss;          // 1 when the dirty flag is clear: a write must walk to set it
    uint8_t global;              // the leaf's G flag (CR4.PGE): matches any PCID
} cw_tlb_entry;

typedef struct {
    cw_tlb_entry *entries;
    uint64_t mask;               // entries - 1
    const cw_guest_mmu *mmu;     // permissions and PKRU
    uint64_t eptp;               // the current context: EPTP, PCID, VPID
    uint16_t pcid;
    uint16_t vpid;
} cw_tlb;

/// Inserts a translation of the 4 KiB page containing `va`.
void cw_tlb_fill(cw_tlb *tlb, uint64_t va, const cw_result *r);

/// A TLB hit: the physical address, or `(uint64_t)-1` on a miss or when the access must fault.
uint64_t cw_tlb_lookup(const cw_tlb *tlb, uint64_t va, uint32_t acc);

#ifdef __cplusplus
}
#endif

#endif
