"""Autoregressive generation: greedy, temperature, top-k and top-p (nucleus) sampling.

The context rule (documented once, applied the same with and without the cache):
    the model attends to at most ``max_seq_len`` tokens. Whenever the context would grow past
    that — a long prompt, or a long generation — it is cropped to its last
    ``keep = max(1, 3·max_seq_len // 4)`` tokens, and with ``use_cache`` the cache is rebuilt
    from them by one prefill. Cropping to 3/4 rather than to exactly max_seq_len leaves room
    for max_seq_len/4 cheap cached steps before the next rebuild. Because both paths crop at the
    same moments, ``use_cache=True`` and ``use_cache=False`` give the same tokens.
"""

from __future__ import annotations

import torch

from .slm import check_token_ids


def sample_next(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Pick the next token from the last position's logits.

    Args:
        logits: (B, V) unnormalised scores.
        temperature: 0 means greedy (argmax); < 1 sharpens, > 1 flattens the distribution.
        top_k: keep only the k most likely tokens.
        top_p: keep the smallest set of most likely tokens whose probability reaches p.
        generator: torch random generator (for reproducible sampling).

    Returns:
        (B,) int64 token ids.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # Drop a token when the tokens before it already reach top_p (the first always stays).
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def _check_args(model, idx, max_new_tokens, temperature, top_k, top_p, stop_token):
    V = model.config.vocab_size
    if isinstance(idx, torch.Tensor) and idx.dim() not in (1, 2):
        raise ValueError(f"idx must be an int64 tensor of shape (T,) or (B, T), got shape "
                         f"{tuple(idx.shape)}")
    check_token_ids(idx, V, "(T,) or (B, T)")
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be a number >= 0 (0 = greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                              or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or a number in (0, 1], got {top_p!r}")
    if stop_token is not None and not (isinstance(stop_token, int) and 0 <= stop_token < V):
        raise ValueError(f"stop_token must be None or a token id in [0, {V}), got {stop_token!r}")


@torch.inference_mode()
def generate(model, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, use_cache: bool = True,
             seed: int | None = None, stop_token: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` tokens to each row of ``idx``.

    Args:
        model: an SLM.
        idx: prompt token ids, (B, T) or (T,), on the model's device.
        max_new_tokens: how many tokens to add.
        temperature, top_k, top_p: see :func:`sample_next` (temperature 0 = greedy).
        use_cache: keep keys/values (or mixer states) between steps, so each step processes
            one token instead of the whole context.
        seed: seed for sampling (None: torch's global generator).
        stop_token: stop early once every row has produced this token.

    Returns:
        (B, T + n) token ids, n <= max_new_tokens; (T + n,) if idx was 1-D.
    """
    _check_args(model, idx, max_new_tokens, temperature, top_k, top_p, stop_token)
    squeeze = idx.dim() == 1
    idx = idx.view(1, -1) if squeeze else idx
    B, T0 = idx.shape
    max_len = model.config.max_seq_len
    keep = max(1, 3 * max_len // 4)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=idx.device).manual_seed(seed)

    tokens = torch.empty(B, T0 + max_new_tokens, dtype=torch.long, device=idx.device)
    tokens[:, :T0] = idx
    columns = tokens.unbind(1)  # views, one per position: cheaper to write than tokens[:, n]
    n, start = T0, 0  # tokens so far; first token of the context window
    caches = None
    decoder = getattr(model, "compiled_decoder", None) if use_cache else None  # compile_decode()
    done = torch.zeros(B, dtype=torch.bool, device=idx.device)
    nxt = idx[:, -1]  # the newest token of each row (B,)
    was_training = model.training
    model.eval()
    try:
        for _ in range(max_new_tokens):
            if n - start > max_len:  # the context rule (module docstring)
                start, caches = n - keep, None
            greedy = None  # the compiled step's argmax, taken when temperature == 0
            if not use_cache:
                logits = model._forward(tokens[:, start:n], None, last_only=True)
            elif caches is None:  # prefill: the whole window in one pass
                caches = (decoder or model).new_caches(B, max_len)
                logits = model._forward(tokens[:, start:n], caches, last_only=True)
            elif decoder is not None:  # decode the newest token, nxt, in the compiled step
                logits, greedy = decoder.step(nxt, caches)
            else:  # decode: only the newest token
                logits = model._forward(tokens[:, n - 1 : n], caches, last_only=True)
            if greedy is not None and temperature == 0:
                nxt = greedy  # (B,)
            else:
                nxt = sample_next(logits[:, -1], temperature=temperature, top_k=top_k,
                                  top_p=top_p, generator=generator)  # (B,)
            columns[n].copy_(nxt)
            n += 1
            if stop_token is not None:
                done |= nxt == stop_token
                if bool(done.all()):
                    break
    finally:
        model.train(was_training)
    out = tokens[:, :n]
    return out[0] if squeeze else out
