// C atomics for GeneratedMMU's physical-memory runtime.
