//! Byzantine-robust federated aggregation: hierarchical Krum.
//!
//! # Krum
//! Among `n` gradients of which at most `f` may be adversarial, Krum (Blanchard et al.,
//! *Machine Learning with Adversaries: Byzantine Tolerant Gradient Descent*, NeurIPS
//! 2017) picks the one whose `m = n − f − 2` nearest neighbours are closest:
//!
//! ```text
//! d_ij    = ‖g_i − g_j‖²                       (squared Euclidean)
//! score_i = Σ of the m smallest d_ij, j ≠ i    (m = max(1, n − f − 2))
//! Krum    = g_argmin score                     (first index on ties)
//! ```
//!
//! It needs `n > 2f + 2`; with `n = 1` it returns the only gradient. The Byzantine
//! budget of a group of `n` is
//!
//! ```text
//! f(n) = min(⌈n·β⌉, max(0, ⌊(n − 3)/2⌋))
//! ```
//!
//! so that the Krum condition always holds when it is applied.
//!
//! # Hierarchy
//! 1. If `n > 1000`, keep a sample of `⌈n·sample_fraction⌉` gradients drawn without
//!    replacement (NumPy's `Generator.choice(n, k, replace=False)`: Floyd's algorithm
//!    and a shuffle, or a partial tail shuffle for large samples).
//! 2. `C = min(num_clusters, n)`; each gradient, in order, joins cluster
//!    `integers(0, C)`.
//! 3. Level 1, per non-empty cluster in index order: one member → itself;
//!    `size ≤ 2·f(size) + 2` → coordinate-wise mean; otherwise Krum.
//! 4. Level 2 over the `r` cluster representatives: one → itself; `r ≤ 2·f(r) + 2` →
//!    coordinate-wise lower median (`sorted[(r − 1)/2]`); otherwise
//!    `0.7·Krum + 0.3·median`.
//!
//! All randomness comes from `default_rng(seed)`, so — unlike the Python reference,
//! which drew from OS entropy — the result is reproducible.
//!
//! ```
//! use mfn_core::federated::{aggregate, KrumParams};
//! let g = vec![vec![1.0, 2.0, 3.0], vec![1.1, 2.1, 3.1], vec![0.9, 1.9, 2.9], vec![100.0; 3]];
//! let p = KrumParams { num_clusters: 2, ..KrumParams::default() };
//! assert_eq!(aggregate(&g, &p)?, vec![1.0, 2.0, 3.0]);
//! # Ok::<(), mfn_core::CoreError>(())
//! ```

use std::collections::HashSet;

use crate::error::{CoreError, Result, check_range_usize};
use crate::rng::Rng;

/// Above this many gradients, [`aggregate`] samples before clustering.
pub const SAMPLING_THRESHOLD: usize = 1000;

/// Largest accepted `num_clusters`.
pub const MAX_CLUSTERS: usize = 1000;

/// Parameters of [`aggregate`].
///
/// ```
/// let p = mfn_core::federated::KrumParams::default();
/// assert_eq!((p.num_clusters, p.byzantine_fraction, p.sample_fraction, p.seed), (10, 0.2, 0.1, 42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KrumParams {
    /// Number of level-1 clusters, in `[1, 1000]` (capped at the number of gradients).
    pub num_clusters: usize,
    /// Assumed fraction `β` of Byzantine gradients, in `[0, 0.5)`.
    pub byzantine_fraction: f64,
    /// Fraction kept when there are more than 1000 gradients, in `(0, 1]`.
    pub sample_fraction: f64,
    /// Seed of the `default_rng` that samples and assigns clusters.
    pub seed: u64,
}

impl Default for KrumParams {
    fn default() -> Self {
        KrumParams {
            num_clusters: 10,
            byzantine_fraction: 0.2,
            sample_fraction: 0.1,
            seed: crate::DEFAULT_SEED,
        }
    }
}

impl KrumParams {
    /// Check every parameter against its range.
    ///
    /// ```
    /// let p = mfn_core::federated::KrumParams { byzantine_fraction: 0.5, ..Default::default() };
    /// assert_eq!(p.validate().unwrap_err().field(), Some("byzantine_fraction"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_range_usize("num_clusters", self.num_clusters, 1, MAX_CLUSTERS)?;
        let beta = self.byzantine_fraction;
        if !(0.0..0.5).contains(&beta) {
            return Err(CoreError::out_of_range(
                "byzantine_fraction",
                beta,
                "must be in [0, 0.5)",
            ));
        }
        let s = self.sample_fraction;
        if !(s > 0.0 && s <= 1.0) {
            return Err(CoreError::out_of_range(
                "sample_fraction",
                s,
                "must be in (0, 1]",
            ));
        }
        Ok(())
    }
}

/// Byzantine budget of a group of `n`: `min(⌈n·β⌉, max(0, ⌊(n − 3)/2⌋))`.
///
/// ```
/// use mfn_core::federated::byzantine_count;
/// assert_eq!(byzantine_count(4, 0.2), 0);
/// assert_eq!(byzantine_count(10, 0.2), 2);
/// assert_eq!(byzantine_count(100, 0.45), 45);
/// assert_eq!(byzantine_count(0, 0.2), 0);
/// ```
pub fn byzantine_count(n: usize, beta: f64) -> usize {
    if n == 0 {
        return 0;
    }
    // A float-to-int `as` saturates (NaN → 0), so a bad β cannot overflow here.
    let estimated = (n as f64 * beta).ceil() as usize;
    let max_allowed = n.saturating_sub(3) / 2;
    estimated.min(max_allowed)
}

/// Index of the gradient Krum selects among `gradients` assuming `f` Byzantine ones.
///
/// Errors: no gradients, an empty, ragged or non-finite gradient, or `n ≤ 2f + 2`
/// (for `n ≥ 2`).
///
/// ```
/// use mfn_core::federated::krum_select;
/// let g: [&[f64]; 5] = [&[0.0, 0.0], &[0.1, 0.0], &[0.0, 0.1], &[0.1, 0.1], &[50.0, 50.0]];
/// assert_ne!(krum_select(&g, 1)?, 4);
/// assert!(krum_select(&g, 2).is_err()); // needs n > 2f + 2
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn krum_select(gradients: &[&[f64]], f: usize) -> Result<usize> {
    check_gradients(gradients.iter().copied())?;
    let n = gradients.len();
    if n == 1 {
        return Ok(0);
    }
    if n <= 2 * f + 2 {
        return Err(CoreError::invalid(
            "gradients",
            format!(
                "krum needs more than 2f + 2 = {} gradients, got {n}",
                2 * f + 2
            ),
        ));
    }
    Ok(krum_index(gradients, f))
}

/// Hierarchical Krum aggregate of `gradients` (see the module docs).
///
/// Errors: invalid parameters; no gradients; an empty, ragged (naming the index) or
/// non-finite gradient.
///
/// ```
/// use mfn_core::federated::{aggregate, KrumParams};
/// let honest = vec![vec![1.0, 1.0]; 9];
/// let mut all = honest.clone();
/// all.push(vec![1e6, -1e6]);
/// let p = KrumParams { num_clusters: 1, ..KrumParams::default() };
/// assert_eq!(aggregate(&all, &p)?, vec![1.0, 1.0]);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn aggregate(gradients: &[Vec<f64>], p: &KrumParams) -> Result<Vec<f64>> {
    aggregate_with_rng(gradients, p, &mut Rng::new(p.seed))
}

/// [`aggregate`] drawing the sample and the cluster assignment from `rng` instead of
/// `default_rng(p.seed)` (`p.seed` is ignored): the reference's
/// `HierarchicalKrumAggregator.aggregate(gradients, rng)`, which leaves the caller's
/// generator after its last draw. Nothing is drawn when the input is refused.
///
/// ```
/// use mfn_core::{federated::{aggregate, aggregate_with_rng, KrumParams}, rng::Rng};
/// let g = vec![vec![1.0], vec![2.0], vec![3.0], vec![4.0], vec![5.0]];
/// let p = KrumParams { num_clusters: 2, seed: 7, ..KrumParams::default() };
/// assert_eq!(aggregate_with_rng(&g, &p, &mut Rng::new(7))?, aggregate(&g, &p)?);
/// # Ok::<(), mfn_core::CoreError>(())
/// ```
pub fn aggregate_with_rng(
    gradients: &[Vec<f64>],
    p: &KrumParams,
    rng: &mut Rng,
) -> Result<Vec<f64>> {
    p.validate()?;
    check_gradients(gradients.iter().map(Vec::as_slice))?;

    let mut pool: Vec<&[f64]> = gradients.iter().map(Vec::as_slice).collect();
    if pool.len() > SAMPLING_THRESHOLD {
        let n = pool.len();
        let k = ((n as f64 * p.sample_fraction).ceil() as usize).clamp(1, n);
        pool = choice_without_replacement(rng, n, k)
            .into_iter()
            .map(|i| pool[i])
            .collect();
    }

    let n = pool.len();
    let clusters = p.num_clusters.min(n);
    let assignment: Vec<usize> = (0..n)
        .map(|_| rng.integers(clusters as u64) as usize)
        .collect();

    let mut representatives: Vec<Vec<f64>> = Vec::new();
    for c in 0..clusters {
        let members: Vec<&[f64]> = pool
            .iter()
            .zip(&assignment)
            .filter(|&(_, &a)| a == c)
            .map(|(&g, _)| g)
            .collect();
        if members.is_empty() {
            continue;
        }
        let f = byzantine_count(members.len(), p.byzantine_fraction);
        let rep = if members.len() == 1 {
            members[0].to_vec()
        } else if members.len() <= 2 * f + 2 {
            coordinate_mean(&members)
        } else {
            members[krum_index(&members, f)].to_vec()
        };
        representatives.push(rep);
    }

    let reps: Vec<&[f64]> = representatives.iter().map(Vec::as_slice).collect();
    let r = reps.len();
    let f = byzantine_count(r, p.byzantine_fraction);
    let result = if r == 1 {
        reps[0].to_vec()
    } else if r <= 2 * f + 2 {
        lower_median(&reps)
    } else {
        let krum = reps[krum_index(&reps, f)];
        lower_median(&reps)
            .iter()
            .zip(krum)
            .map(|(&med, &k)| 0.7 * k + 0.3 * med)
            .collect()
    };
    Ok(result)
}

/// Krum on validated input with `n > 2f + 2`, `n ≥ 2`.
fn krum_index(g: &[&[f64]], f: usize) -> usize {
    let n = g.len();
    let m = n.saturating_sub(f + 2).max(1);
    let mut dist = vec![0.0f64; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let d: f64 = g[i]
                .iter()
                .zip(g[j])
                .map(|(&a, &b)| (a - b) * (a - b))
                .sum();
            dist[i * n + j] = d;
            dist[j * n + i] = d;
        }
    }
    let mut best = 0;
    let mut best_score = f64::INFINITY;
    let mut row = Vec::with_capacity(n - 1);
    for i in 0..n {
        row.clear();
        row.extend((0..n).filter(|&j| j != i).map(|j| dist[i * n + j]));
        row.sort_unstable_by(f64::total_cmp);
        let score: f64 = row[..m.min(row.len())].iter().sum();
        if score < best_score {
            best_score = score;
            best = i;
        }
    }
    best
}

fn coordinate_mean(g: &[&[f64]]) -> Vec<f64> {
    let k = g.len() as f64;
    (0..g[0].len())
        .map(|d| g.iter().map(|v| v[d]).sum::<f64>() / k)
        .collect()
}

/// Coordinate-wise lower median `sorted[(r − 1)/2]` (what `torch.median` returns).
fn lower_median(g: &[&[f64]]) -> Vec<f64> {
    let mid = (g.len() - 1) / 2;
    let mut col = Vec::with_capacity(g.len());
    (0..g[0].len())
        .map(|d| {
            col.clear();
            col.extend(g.iter().map(|v| v[d]));
            col.sort_unstable_by(f64::total_cmp);
            col[mid]
        })
        .collect()
}

fn check_gradients<'a>(mut gradients: impl Iterator<Item = &'a [f64]>) -> Result<()> {
    let first = gradients
        .next()
        .ok_or_else(|| CoreError::invalid("gradients", "no gradients to aggregate"))?;
    let dim = first.len();
    if dim == 0 {
        return Err(CoreError::invalid("gradients", "gradient 0 is empty"));
    }
    for (i, g) in std::iter::once(first).chain(gradients).enumerate() {
        if g.len() != dim {
            return Err(CoreError::invalid(
                "gradients",
                format!(
                    "gradient {i} has length {}, gradient 0 has length {dim}",
                    g.len()
                ),
            ));
        }
        if let Some(j) = g.iter().position(|v| !v.is_finite()) {
            return Err(CoreError::invalid(
                "gradients",
                format!("gradient {i} has a non-finite value at index {j}"),
            ));
        }
    }
    Ok(())
}

/// `Generator.choice(pop, size, replace=False)` (with NumPy's default `shuffle=True`)
/// for `1 ≤ size ≤ pop ≤ 2³²`, draw for draw.
fn choice_without_replacement(rng: &mut Rng, pop: usize, size: usize) -> Vec<usize> {
    const CUTOFF: usize = 50;
    if pop > 10_000 && size > pop / CUTOFF {
        // Partial Fisher–Yates from the end; keep the shuffled tail.
        let mut idx: Vec<usize> = (0..pop).collect();
        let first = (pop - size).max(1);
        for i in (first..pop).rev() {
            let j = rng.integers(i as u64 + 1) as usize;
            idx.swap(i, j);
        }
        idx.split_off(pop - size)
    } else {
        // Floyd's algorithm: for j in pop−size..pop pick v ∈ [0, j]; take v if new,
        // else j. Then shuffle the picks.
        let mut seen = HashSet::with_capacity(size);
        let mut out = Vec::with_capacity(size);
        for j in (pop - size)..pop {
            let v = rng.integers(j as u64 + 1) as usize;
            let pick = if seen.contains(&v) { j } else { v };
            seen.insert(pick);
            out.push(pick);
        }
        rng.shuffle(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_is_a_sample_without_replacement() {
        for &(pop, size) in &[(1001, 101), (20_000, 2000), (20_000, 100), (5, 5)] {
            let mut rng = Rng::new(9);
            let mut s = choice_without_replacement(&mut rng, pop, size);
            assert_eq!(s.len(), size);
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), size);
            assert!(s.iter().all(|&i| i < pop));
        }
    }

    #[test]
    fn lower_median_takes_the_lower_middle() {
        let g: [&[f64]; 4] = [&[4.0], &[1.0], &[3.0], &[2.0]];
        assert_eq!(lower_median(&g), vec![2.0]);
    }
}
