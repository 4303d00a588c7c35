"""The pipeline's steps, in order: extract → rules → chunk (prepare) → model_pass (prompt, sentences) → guard.

Plain data in, plain data out: nothing here opens the checkpoint, prints, or imports llama.cpp.
"""
