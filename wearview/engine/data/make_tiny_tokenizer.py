"""Generate the vocabulary and merge rules of the tiny pipeline's CLIP tokenizer.

The tiny pipeline needs a real byte-level BPE tokenizer, but no download. This script trains
one deterministically on a short built-in word list of garment and photography terms and
writes `tiny_tokenizer/vocab.json` and `tiny_tokenizer/merges.txt` in the format that
`transformers.CLIPTokenizer` reads. Rerunning it reproduces the same files byte for byte.

Run: python wearview/engine/data/make_tiny_tokenizer.py
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

OUTPUT_DIR = Path(__file__).resolve().parent / "tiny_tokenizer"

# Total vocabulary size including the two special tokens; the tiny text encoder's embedding
# table is sized to match.
VOCAB_SIZE = 1000

START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"

CORPUS = """
a photo of a person wearing a shirt dress skirt jacket coat sweater hoodie jeans trousers
pants shorts blouse top tank tee t-shirt cardigan blazer vest jumpsuit romper gown suit
scarf hat cap bag shoes sneakers boots sandals heels belt gloves socks leggings
woman man model standing walking sitting full body portrait studio light background white
grey gray black blue navy red green yellow pink purple orange brown beige cream ivory
cotton linen wool silk denim leather knit lace satin velvet polyester chiffon cashmere
striped plaid floral printed solid pattern embroidered pleated ruffled fitted loose
slim oversized cropped long short sleeve sleeveless collar neckline v-neck crew round
button zipper pocket hem waist high low rise natural soft daylight outdoor indoor street
photorealistic realistic detailed sharp focus high quality professional fashion catalog
e-commerce product photography editorial lookbook clean minimal smiling neutral pose
blurry low quality deformed distorted extra limbs bad anatomy watermark text logo cartoon
drawing painting illustration render cgi lowres jpeg artifacts cropped out of frame
the and with on in of for to at by from an is are this that its her his their
""".split()


def bytes_to_unicode() -> dict[int, str]:
    """Map every byte to a printable character, the byte-level alphabet CLIP's BPE uses."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(code) for code in codes), strict=True))


def train_merges(words: list[str], max_merges: int) -> list[tuple[str, str]]:
    """Learn up to `max_merges` BPE merges, always taking the most frequent pair.

    Ties break on the pair itself, so the result does not depend on dictionary order.
    """
    byte_encoder = bytes_to_unicode()
    counts = collections.Counter(words)
    symbols: dict[tuple[str, ...], int] = {}
    for word, count in counts.items():
        chars = [byte_encoder[b] for b in word.encode("utf-8")]
        chars[-1] = chars[-1] + "</w>"
        symbols[tuple(chars)] = symbols.get(tuple(chars), 0) + count

    merges: list[tuple[str, str]] = []
    while len(merges) < max_merges:
        pairs: collections.Counter[tuple[str, str]] = collections.Counter()
        for word, count in symbols.items():
            for left, right in zip(word, word[1:], strict=False):
                pairs[(left, right)] += count
        if not pairs:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        merges.append(best)
        merged: dict[tuple[str, ...], int] = {}
        for word, count in symbols.items():
            out: list[str] = []
            i = 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        symbols = merged
    return merges


def build_vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return the token-to-id map and the merge list, in CLIP's id order."""
    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [symbol + "</w>" for symbol in alphabet]
    merge_budget = VOCAB_SIZE - len(tokens) - 2
    merges = train_merges(CORPUS, merge_budget)
    tokens += ["".join(pair) for pair in merges]
    tokens += [START_TOKEN, END_TOKEN]
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise RuntimeError("a merge produced a token that is already in the vocabulary")
    return vocab, merges


def main() -> None:
    vocab, merges = build_vocabulary()
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUTPUT_DIR / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merges]
    (OUTPUT_DIR / "merges.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(vocab)} tokens and {len(merges)} merges to {OUTPUT_DIR}")


if __name__ == "__main__":
    main()
