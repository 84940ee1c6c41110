"""Drift of the request text itself: a domain classifier and an embedding MMD test (docs/drift.md).

Domain classifier. TF-IDF (word 1-2-grams, fitted on both windows together: it never sees which
window a text came from) and a logistic regression learn to tell the current window from the
reference; its AUC on requests it was not trained on says how separable the windows are (0.5:
not at all). A fixed cut-off such as "AUC > 0.55" is not a test: under no drift the AUC of a
small window often exceeds it. Two valid nulls:

* ``"permutation"``: K-fold cross-fitted AUC (every request scored by a model that did not see
  it), and the same pipeline on B random relabellings of the pooled requests;
  p = (1 + #{AUC_b >= AUC}) / (1 + B). Exact under exchangeability, whatever the learner.
  Pooling the folds' scores and reading a Mann-Whitney p-value off them is *not* exact: the
  folds' models share training requests, so the folds' rank statistics are dependent.
* ``"split"``: train on a stratified half, score the other half, Mann-Whitney U on those scores.
  Given the training half (and all texts), the held-out labels are a uniformly random
  arrangement under no drift, so U has exactly its Mann-Whitney null; one fit, for big windows.

``"auto"`` permutes while the windows hold at most ``permutation_limit`` requests together.

Embeddings. The maximum mean discrepancy (Gretton et al. 2012, JMLR 13, eq. 5, the biased
V-statistic) between the windows' embeddings under a Gaussian kernel whose bandwidth is the
median pairwise distance of the pooled sample (label-free, so the permutation test stays exact),
with p = (1 + #{MMD_b^2 >= MMD^2}) / (1 + B) over B random relabellings. Above ``exact_limit``
requests the kernel is approximated by random Fourier features (Rahimi & Recht 2007); the test is
still exact for its own statistic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from tailgate.analysis._drift import DriftTest
from tailgate.analysis._estimate import Estimate
from tailgate.errors import MissingDependency

__all__ = ["DomainClassifier", "classifier_test", "domain_classifier", "embedding_drift", "mmd_test"]

MAX_TEXTS = 50_000  # texts per window the domain classifier reads (domain_classifier's max_texts)


@dataclass(frozen=True)
class DomainClassifier:
    """How well a classifier tells the current window's texts from the reference's.

    Attributes:
        test: the test (statistic: the AUC the p-value is about).
        auc: the AUC; with the ``split`` null its interval is Hanley & McNeil's (1982) on the
            held-out half, with the ``permutation`` null it has no interval (cross-fitted folds
            are dependent; no honest closed form), and the method says so.
        cur_terms: n-grams that most mark a request as current (largest coefficients).
        ref_terms: n-grams that most mark a request as reference.
    """

    test: DriftTest
    auc: Estimate
    cur_terms: tuple[str, ...]
    ref_terms: tuple[str, ...]


def _sklearn() -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MissingDependency("the domain classifier needs scikit-learn: pip install 'tailgate[drift]'") from None


def _features(texts: list[str]) -> tuple[object, list[str]]:
    _sklearn()
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True, dtype=np.float32)
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # no term occurs twice: nothing to learn from
        vec = TfidfVectorizer(ngram_range=(1, 1), min_df=1, dtype=np.float32)
        x = vec.fit_transform([t if t.strip() else "_" for t in texts])
    return x, [str(t) for t in vec.get_feature_names_out()]


def _model() -> object:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, solver="liblinear")


def _sklearn_seed(seed: int) -> int:
    """scikit-learn's ``random_state`` takes 0 <= seed < 2**32, numpy's generators any non-negative
    integer: a larger seed is hashed to 32 bits by numpy's SeedSequence (deterministic; a smaller
    one is passed as is, so results for ordinary seeds do not change)."""
    if 0 <= seed < 2**32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1)[0])


def _auc(scores: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n1 = int(y.sum())
    n0 = y.size - n1
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _cross_fitted(x: object, y: np.ndarray, folds: int, seed: int) -> float:
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(y.size)
    splits = StratifiedKFold(folds, shuffle=True, random_state=_sklearn_seed(seed))
    for train, test in splits.split(np.zeros(y.size), y):
        m = _model()
        m.fit(x[train], y[train])  # type: ignore[attr-defined,index]
        scores[test] = m.decision_function(x[test])  # type: ignore[attr-defined,index]
    return _auc(scores, y)


def domain_classifier(
    ref: Sequence[str],
    cur: Sequence[str],
    *,
    null: Literal["auto", "permutation", "split"] = "auto",
    folds: int = 5,
    permutations: int = 99,
    permutation_limit: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 10,
    max_texts: int | None = MAX_TEXTS,
) -> DomainClassifier:
    """Domain-classifier test of text drift (module docstring). Needs scikit-learn.

    A window with more than ``max_texts`` texts is first replaced by a uniformly random sample of
    that many of its texts (seeded; None: never). Which texts are kept does not depend on what
    they say, so under no drift the kept texts of both windows are still exchangeable and the
    test stays exact; the test's ``n_ref`` / ``n_cur`` are the kept counts and its note says so.
    This bounds the cost (TF-IDF and the fit) of million-request windows, where a sample of tens
    of thousands already tells any drift a classifier can see.

    Example:
        >>> ref = [f"how do I sort a list {i}" for i in range(40)]
        >>> cur = [f"wie sortiere ich eine Liste {i}" for i in range(40)]
        >>> domain_classifier(ref, cur, permutations=19).test.p_value
        0.05
    """
    if min(len(ref), len(cur)) < max(folds, 2):
        raise ValueError(f"each window needs at least {max(folds, 2)} texts")
    r_texts, c_texts = list(ref), list(cur)
    note = None
    if max_texts is not None and max(len(r_texts), len(c_texts)) > max_texts:
        if max_texts < max(folds, 2):
            raise ValueError(f"max_texts must be at least {max(folds, 2)}")
        rng = np.random.default_rng([seed, 1])
        note = (
            f"a random {min(max_texts, len(r_texts)):,} of the reference's {len(r_texts):,} texts and "
            f"{min(max_texts, len(c_texts)):,} of the current window's {len(c_texts):,} (max_texts)"
        )
        r_texts, c_texts = _sample(r_texts, max_texts, rng), _sample(c_texts, max_texts, rng)
    x, terms = _features([*r_texts, *c_texts])
    found = classifier_test(
        x,
        len(r_texts),
        terms=terms,
        null=null,
        folds=folds,
        permutations=permutations,
        permutation_limit=permutation_limit,
        confidence=confidence,
        seed=seed,
        top=top,
    )
    return found if note is None else replace(found, test=replace(found.test, note=note))


def _sample(texts: list[str], k: int, rng: np.random.Generator) -> list[str]:
    if len(texts) <= k:
        return texts
    return [texts[i] for i in np.sort(rng.choice(len(texts), k, replace=False))]


def classifier_test(
    x: Any,
    n_ref: int,
    *,
    terms: Sequence[str] = (),
    null: Literal["auto", "permutation", "split"] = "auto",
    folds: int = 5,
    permutations: int = 99,
    permutation_limit: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    top: int = 10,
) -> DomainClassifier:
    """The domain-classifier test on a ready feature matrix: the first ``n_ref`` rows are the
    reference window, the rest the current one. The features must not depend on which window a
    row is in (e.g. TF-IDF fitted on both windows, or on any larger label-free pool)."""
    _sklearn()
    from scipy import stats
    from sklearn.model_selection import train_test_split

    n = int(x.shape[0])
    y = np.r_[np.zeros(n_ref, dtype=int), np.ones(n - n_ref, dtype=int)]
    if null == "auto":
        null = "permutation" if n <= permutation_limit else "split"
    if null == "permutation":
        obs = _cross_fitted(x, y, folds, seed)
        rng = np.random.default_rng(seed)
        null_aucs = np.array([_cross_fitted(x, rng.permutation(y), folds, seed) for _ in range(permutations)])
        p = (1.0 + float(np.sum(null_aucs >= obs - 1e-12))) / (1.0 + permutations)
        method = f"cross-fitted AUC ({folds} folds), permutation null (B={permutations})"
        test = DriftTest(method, obs, p, None, n_ref, n - n_ref)
        auc = Estimate(obs, None, None, n, n, f"{method}; no interval: the folds are dependent", None, confidence)
    else:
        tr, te = train_test_split(np.arange(n), test_size=0.5, stratify=y, random_state=_sklearn_seed(seed))
        m = _model()
        m.fit(x[tr], y[tr])  # type: ignore[attr-defined]
        s = np.asarray(m.decision_function(x[te]))  # type: ignore[attr-defined]
        yt = y[te]
        res = stats.mannwhitneyu(s[yt == 1], s[yt == 0], alternative="greater")
        obs = _auc(s, yt)
        method = "held-out AUC (stratified half), Mann-Whitney null"
        test = DriftTest(method, obs, float(res.pvalue), None, n_ref, n - n_ref)
        auc = _hanley_mcneil(obs, int(yt.sum()), int(yt.size - yt.sum()), confidence, method)
    cur_terms: tuple[str, ...] = ()
    ref_terms: tuple[str, ...] = ()
    if terms and top > 0:
        full = _model()
        full.fit(x, y)  # type: ignore[attr-defined]
        coef = np.asarray(full.coef_).ravel()  # type: ignore[attr-defined]
        order = np.argsort(coef)
        cur_terms = tuple(terms[i] for i in order[::-1][:top] if coef[i] > 0)
        ref_terms = tuple(terms[i] for i in order[:top] if coef[i] < 0)
    return DomainClassifier(test, auc, cur_terms, ref_terms)


def _hanley_mcneil(auc: float, n1: int, n0: int, confidence: float, method: str) -> Estimate:
    """AUC with Hanley & McNeil's (1982, Radiology 143:29, eq. 2) standard error, clipped to [0, 1]."""
    from statistics import NormalDist

    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    se = float(np.sqrt(max(var, 0.0)))
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return Estimate(
        auc,
        max(0.0, auc - z * se),
        min(1.0, auc + z * se),
        n1 + n0,
        n1 + n0,
        f"{method}; Hanley-McNeil interval",
        se,
        confidence,
    )


def _median_bandwidth(z: np.ndarray, rng: np.random.Generator, cap: int = 1000) -> float:
    sub = z[rng.choice(z.shape[0], min(cap, z.shape[0]), replace=False)]
    sq = np.sum(sub * sub, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * sub @ sub.T, 0.0)
    med = float(np.sqrt(np.median(d2[np.triu_indices(sub.shape[0], 1)])))
    return med if med > 0 else 1.0


def mmd_test(
    ref: np.ndarray,
    cur: np.ndarray,
    *,
    permutations: int = 999,
    exact_limit: int = 4000,
    features: int = 256,
    seed: int = 0,
) -> DriftTest:
    """MMD permutation test between two sets of vectors (module docstring), one row per request.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> mmd_test(rng.normal(size=(60, 8)), rng.normal(0.8, 1, size=(60, 8))).p_value
        0.001
    """
    a, b = np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError("two 2-d arrays with the same number of columns and at least two rows each")
    rng = np.random.default_rng(seed)
    z = np.vstack([a, b])
    n, m = len(a), len(b)
    sigma = _median_bandwidth(z, rng)
    w = np.r_[np.full(n, 1.0 / n), np.full(m, -1.0 / m)]
    perms = np.stack([rng.permutation(w) for _ in range(permutations)], axis=1)
    if n + m <= exact_limit:
        sq = np.sum(z * z, axis=1)
        k = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0) / (2 * sigma * sigma))
        stat = float(w @ k @ w)
        null = np.einsum("ib,ib->b", perms, k @ perms)
        method = f"MMD^2 (Gaussian kernel, median bandwidth {sigma:.3g}), permutation (B={permutations})"
    else:
        omega = rng.normal(scale=1.0 / sigma, size=(z.shape[1], features))
        phase = rng.uniform(0, 2 * np.pi, features)
        phi = np.sqrt(2.0 / features) * np.cos(z @ omega + phase)
        stat = float(np.sum((w @ phi) ** 2))
        null = np.sum((perms.T @ phi) ** 2, axis=1)
        method = (
            f"MMD^2 (Gaussian kernel, median bandwidth {sigma:.3g}, {features} random Fourier features), "
            f"permutation (B={permutations})"
        )
    p = (1.0 + float(np.sum(null >= stat - 1e-12 * max(1.0, abs(stat))))) / (1.0 + permutations)
    return DriftTest(method, stat, p, None, n, m)


def embedding_drift(
    ref: Sequence[str],
    cur: Sequence[str],
    *,
    embed: Callable[[list[str]], np.ndarray] | None = None,
    **options: int,
) -> DriftTest:
    """MMD test on text embeddings; ``embed`` defaults to the bundled all-MiniLM-L6-v2 (the
    ``semantic`` extra, :class:`tailgate.analysis._semantic.Embedder`)."""
    if embed is None:
        from tailgate.analysis._semantic import Embedder

        embed = Embedder().embed
    return mmd_test(embed(list(ref)), embed(list(cur)), **options)
