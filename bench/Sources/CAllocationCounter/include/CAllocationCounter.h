#ifndef C_ALLOCATION_COUNTER_H
#define C_ALLOCATION_COUNTER_H
#include <stdint.h>
/// Number of allocation calls (malloc, calloc, realloc, aligned variants) since start.
uint64_t siprec_allocation_count(void);
#endif
