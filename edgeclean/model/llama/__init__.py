"""llama.cpp through llama-cpp-python: the Model adapter and the batch engine behind it."""
