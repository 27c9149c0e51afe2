#ifndef SPECC_CCPUID_H
#define SPECC_CCPUID_H
#include <stdint.h>

/// Executes CPUID with EAX = leaf and ECX = subleaf; writes EAX, EBX, ECX, EDX to out[0..3].
void specc_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);
#endif
