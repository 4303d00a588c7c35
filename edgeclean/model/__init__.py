"""The model: the narrow protocol the pipeline uses, model files (registry, pull, GGUF check), hardware, and
the llama.cpp implementation in llama/."""
