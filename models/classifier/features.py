"""The classifier's features: a fast word counter (unigrams, optional bigrams, name columns) and
the count of technologies the taxonomy's local extractor finds (:class:`TaxonomyMatchCounter`).

scikit-learn's ``CountVectorizer`` tokenises each paragraph with a regular expression and counts
tokens in a Python loop: about 1,500 postings a second on one core for the word features alone,
under the stage's 2,000 target once splitting and the model are added. This counter does the job
per *batch*: it joins the batch's paragraphs into one byte string, blanks punctuation with one
``bytes.translate`` call, splits on whitespace, maps each token (through a bounded cache of surface
forms) to its id with one C-level dict lookup, and builds the sparse matrix with numpy. Its word
columns are what a ``CountVectorizer(min_df=...)`` with this tokenisation would count.

Tokens keep ``+``, ``#`` and inner ``.`` so that ``c++``, ``c#``, ``.net`` and ``node.js`` stay whole;
a dot that ends a sentence is dropped. Only plain data (dicts, lists, numpy arrays) is fitted or
held, so both estimators persist with skops.
"""

from __future__ import annotations

import string
from collections import Counter

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

# Byte tables: punctuation other than + # . becomes a space, and so does ASCII whitespace (so that
# one bytes.replace finds every sentence-final dot); _TABLE also lower-cases ASCII letters.
_BLANK = {ord(c) for c in string.punctuation if c not in "+#."} | set(b"\t\n\r\x0b\x0c")
_CASED_TABLE = bytes(32 if b in _BLANK else b for b in range(256))
_TABLE = _CASED_TABLE.translate(bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode()))
_SEPARATOR = b"\x01"  # between documents; a \x01 inside a document is replaced by a space first
# Token codes besides vocabulary ids.
_UNKNOWN, _SEP, _LEXICON_ONLY, _UNKNOWN_NAME = -1, -2, -3, -4
_MAX_SURFACES = 500_000
#: TaxonomyMatchCounter scans paragraphs in chunks of about this many characters.
_CHUNK_CHARS = 4000


def _tokenise_batch(docs: list[str], cased: bool = False) -> list[bytes]:
    """All tokens of a batch, lower case (or as written, with ``cased``), documents separated by a
    ``\\x01`` token."""
    clean = [d.replace("\x01", " ") if "\x01" in d else d for d in docs]
    raw = " \x01 ".join(clean).encode("utf-8", "replace") + b" "
    # drop sentence-final dots ("python." -> "python"), keep inner ones ("node.js", ".net")
    return raw.translate(_CASED_TABLE if cased else _TABLE).replace(b".. ", b"  ").replace(b". ", b"  ").split()


def tokenise(doc: str) -> list[str]:
    """The unigram tokens of one paragraph, as the counter sees them (for inspection and tests)."""
    return [t.decode("utf-8", "replace") for t in _tokenise_batch([doc])]


class TokenCounter(TransformerMixin, BaseEstimator):
    """Counts word unigrams (and bigrams if ``bigrams``) seen in at least ``min_df`` training paragraphs.

    With a ``lexicon`` (lower-case technology names, one token each), a column counts the
    paragraph's tokens that are lexicon names, seen in training or not; with ``unknown_names``, a
    last column counts tokens outside the vocabulary and the lexicon that carry a capital letter
    ("Bulma", "NewRelic", "JMS"): both let the model keep a paragraph naming a technology that the
    training text never showed.
    """

    def __init__(self, min_df: int = 2, bigrams: bool = True, lexicon: list[str] | None = None,
                 unknown_names: bool = False):
        self.min_df = min_df
        self.bigrams = bigrams
        self.lexicon = lexicon
        self.unknown_names = unknown_names

    def fit(self, X, y=None):
        docs = list(X)
        unigram_df: Counter = Counter()
        per_doc = [self._doc_tokens(d) for d in docs]
        for tokens in per_doc:
            unigram_df.update(set(tokens))
        vocab = sorted(t for t, n in unigram_df.items() if n >= self.min_df)
        self.vocabulary_ = {t.decode("utf-8", "replace"): i for i, t in enumerate(vocab)}
        index = {t: i for i, t in enumerate(vocab)}
        n_uni = len(vocab)
        keys = np.zeros(0, dtype=np.int64)
        if self.bigrams:
            bigram_df: Counter = Counter()
            for tokens in per_doc:
                ids = [index.get(t, -1) for t in tokens]
                bigram_df.update({a * n_uni + b for a, b in zip(ids, ids[1:]) if a >= 0 and b >= 0})
            keys = np.array(sorted(k for k, n in bigram_df.items() if n >= self.min_df), dtype=np.int64)
        self.bigram_keys_ = keys
        self.n_features_ = n_uni + len(keys) + (1 if self.lexicon else 0) + (1 if self.unknown_names else 0)
        self._bytes_vocab = None
        return self

    @staticmethod
    def _doc_tokens(doc: str) -> list[bytes]:
        return _tokenise_batch([doc])

    def _lookup(self) -> tuple[dict[bytes, int], np.ndarray]:
        """Token -> id (vocabulary ids, then ids for lexicon names outside it) and an is-technology mask."""
        cached = getattr(self, "_bytes_vocab", None)
        if cached is None:  # first use after fit or load: derived data, not persisted
            lookup = {t.encode("utf-8"): i for t, i in self.vocabulary_.items()}
            lookup[_SEPARATOR] = _SEP
            tech = np.zeros(len(lookup) + len(self.lexicon or ()), dtype=bool)
            for name in self.lexicon or ():
                token = name.encode("utf-8")
                index = lookup.setdefault(token, len(lookup))
                tech[index] = True
            cached = self._bytes_vocab = (lookup, tech)
            self._surfaces = {}
        return cached

    def _codes(self, cased: list[bytes]) -> np.ndarray:
        """Code of each token as written: its id, or _UNKNOWN / _UNKNOWN_NAME (with a capital letter).

        Surface forms are resolved once and cached (bounded), so a batch costs one set difference
        and one C-level dict lookup per token, with no Python frame per token.
        """
        lookup, _ = self._lookup()
        surfaces = self._surfaces
        codes = list(map(surfaces.get, cased))
        if None in codes:  # surface forms not seen yet: resolve each once, then look up again
            if len(surfaces) > _MAX_SURFACES:
                surfaces.clear()
            for token in set(cased).difference(surfaces):
                lowered = token.lower()
                code = lookup.get(lowered)
                if code is None:
                    code = _UNKNOWN_NAME if lowered != token else _UNKNOWN
                surfaces[token] = code
            codes = list(map(surfaces.__getitem__, cased))
        return np.array(codes, dtype=np.int64)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_bytes_vocab", None)  # derived from vocabulary_; not persisted
        state.pop("_surfaces", None)
        return state

    def transform(self, X) -> sp.csr_matrix:
        docs = list(X)
        n_docs = len(docs)
        _, tech = self._lookup()
        ids = self._codes(_tokenise_batch(docs, cased=True))
        n_uni = len(self.vocabulary_)
        rows = np.cumsum(ids == _SEP)
        ids[ids >= n_uni] = _LEXICON_ONLY  # lexicon names outside the vocabulary: only its column sees them
        known = ids >= 0
        cols = [ids[known]]
        row_parts = [rows[known]]
        extra = n_uni + len(self.bigram_keys_)
        if self.lexicon:
            named = (ids == _LEXICON_ONLY) | (known & tech[np.maximum(ids, 0)])
            cols.append(np.full(int(named.sum()), extra))
            row_parts.append(rows[named])
            extra += 1
        if self.unknown_names:
            unknown = ids == _UNKNOWN_NAME
            cols.append(np.full(int(unknown.sum()), extra))
            row_parts.append(rows[unknown])
        if self.bigrams and len(ids) > 1 and len(self.bigram_keys_):
            a, b = ids[:-1], ids[1:]
            both = (a >= 0) & (b >= 0)
            keys = a[both] * n_uni + b[both]
            pos = np.searchsorted(self.bigram_keys_, keys)
            pos[pos >= len(self.bigram_keys_)] = 0
            hit = self.bigram_keys_[pos] == keys
            cols.append(n_uni + pos[hit])
            row_parts.append(rows[:-1][both][hit])
        col = np.concatenate(cols)
        row = np.concatenate(row_parts)
        matrix = sp.csr_matrix((np.ones(len(col), dtype=np.float64), (row, col)), shape=(n_docs, self.n_features_))
        matrix.sum_duplicates()
        return matrix

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        names = sorted(self.vocabulary_, key=self.vocabulary_.get)
        n_uni = len(names)
        bigrams = [f"{names[k // n_uni]} {names[k % n_uni]}" for k in self.bigram_keys_.tolist()]
        extra = (["<technology-name>"] if self.lexicon else []) + (["<unknown-name>"] if self.unknown_names else [])
        return np.array(names + bigrams + extra, dtype=object)


class TaxonomyMatchCounter(TransformerMixin, BaseEstimator):
    """One column: how many technology mentions the local extractor finds in each paragraph.

    ``taxonomy`` is plain data taken from the technology taxonomy when the model is built
    (``{"match": {alias: technology}, "ambiguous": {alias: rule}, "window": int}``: the aliases the
    local extractor looks for and its context rules), so the fitted model carries the names it was
    trained with and persists with skops. This is how the model keeps a paragraph naming Excel, SAP
    or Azure Key Vault as reliably as one naming Python: from the taxonomy (O*NET's software of every
    occupation, Linguist, the curated product families), not from a list kept for the classifier.

    Consecutive paragraphs are scanned together, joined with line breaks, in chunks of about a
    posting's length (context rules may look across a paragraph's edge, as they do across a
    posting's lines in extraction); each match counts for the paragraph it starts in.
    """

    def __init__(self, taxonomy: dict | None = None):
        self.taxonomy = taxonomy

    def fit(self, X, y=None):
        self.n_features_ = 1
        self._extractor = None
        return self

    def _finder(self):
        extractor = getattr(self, "_extractor", None)
        if extractor is None:  # first use after fit or load: derived data, not persisted
            from transforms.extract.local import LocalExtractor
            from transforms.taxonomy import taxonomy_from_data

            data = self.taxonomy or {}
            doc = {"version": "classifier", "window": data.get("window", 120),
                   "technologies": [{"name": tech, "category": "", "match": [alias]}
                                    for alias, tech in (data.get("match") or {}).items()],
                   "ambiguous": data.get("ambiguous") or {}, "removal": {"terms": [], "patterns": []}}
            extractor = self._extractor = LocalExtractor(taxonomy_from_data(doc))
        return extractor

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_extractor", None)
        return state

    def transform(self, X) -> sp.csr_matrix:
        docs = list(X)
        if not docs:
            return sp.csr_matrix((0, 1))
        find = self._finder().find
        # where each paragraph starts in the batch's text joined by line breaks, and the chunks: runs
        # of consecutive paragraphs about a posting long, one scan each (the context rules compare a
        # match with its neighbours, so one scan of a whole batch would cost more than its length)
        ends = np.cumsum(np.fromiter(map(len, docs), dtype=np.int64, count=len(docs)) + 1)
        starts = np.concatenate(([0], ends[:-1]))
        cuts = np.flatnonzero(np.diff(starts // _CHUNK_CHARS)) + 1
        rows: list[np.ndarray] = []
        for first, last in zip(np.concatenate(([0], cuts)).tolist(), np.concatenate((cuts, [len(docs)])).tolist()):
            offset = int(starts[first])
            found = [m.start + offset for m in find("\n".join(docs[first:last]))]
            if found:
                rows.append(np.searchsorted(starts, found, side="right") - 1)
        counts = np.bincount(np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
                             minlength=len(docs)).astype(np.float64)
        nonzero = np.flatnonzero(counts)
        return sp.csr_matrix((counts[nonzero], (nonzero, np.zeros(len(nonzero), dtype=np.int64))),
                             shape=(len(docs), 1))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array(["<taxonomy-matches>"], dtype=object)


def taxonomy_features(taxonomy) -> dict:
    """The plain data :class:`TaxonomyMatchCounter` needs from a loaded taxonomy."""
    return {"match": dict(sorted(taxonomy.local_aliases.items())),
            "ambiguous": {k: v for k, v in sorted(taxonomy.ambiguous.items())},
            "window": taxonomy.window}
