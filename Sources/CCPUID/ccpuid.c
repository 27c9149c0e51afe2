#include "ccpuid.h"
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
void specc_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    unsigned int a, b, c, d;
    __cpuid_count(leaf, subleaf, a, b, c, d);
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
}
#else
void specc_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
    (void)leaf; (void)subleaf;
    out[0] = out[1] = out[2] = out[3] = 0;
}
#endif
