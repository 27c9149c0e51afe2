// codegen
