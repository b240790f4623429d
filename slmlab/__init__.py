"""slmlab: the model side of the SLM Edge Lab.

Modules, in the order the labs meet them:

    runtime     fast-mode switch, device choice, seeding (used by every lab)
    data        corpora (fault reports, Python docs) and tokenizers (char, byte-level BPE)
    model       the decoder: config, RMSNorm, RoPE, attention, SwiGLU, SLM, generate, FLOPs;
                efficient mixers (sliding window, block sparse, linear attention, SSM),
                mixture of experts and block sharing (labs 03-05)
    train       the training loop (AdamW, warm-up + cosine, clipping, validation, resume)
    evaluate    perplexity and diagnosis accuracy on the fault-report task
    checkpoint  save/load as safetensors + JSON, written atomically, never pickle
    zoo         small trained models shipped with the package
    scaling     cost against sequence length: forward time, peak memory, decode per token
    compare     architecture studies: variants trained on the same data and budget, scored
    files       atomic file writes
    bench       `python -m slmlab.bench`: the speed figures
    notebooks   `python -m slmlab.notebooks`: strip outputs, make learner copies
    checks      `check_*` helpers that exercise cells call
"""

__version__ = "0.1.0"
