//! Graph layouts: node positions in the plane for drawing (`visualize_graph`).
//!
//! Every layout is deterministic: the same graph (same node order), the same
//! [`Layout`] and the same `seed` give the same positions, bit for bit. Node `i` of the
//! result is the `i`-th node in insertion order ([`Graph::nodes`]).
//!
//! | layout | positions | cost |
//! |---|---|---|
//! | [`Layout::Spring`] | Fruchterman–Reingold force simulation, normalised to `[0,1]²` | O(n² + m) per iteration, 50 iterations |
//! | [`Layout::Circular`] | nodes in order on the circle of centre (½, ½) and radius ½ | O(n) |
//! | [`Layout::KamadaKawai`] | stress majorisation of the Kamada–Kawai energy, normalised to `[0,1]²` | O(n (n + m)) for the distances, O(n²) per sweep |
//! | [`Layout::Coordinates`] | the numeric node attributes `x`, `y` exactly as stored (not normalised) | O(n) |
//! | [`Layout::Auto`] | `coordinates` when every node has numeric `x` and `y`, else `spring` | |
//!
//! **Normalisation.** Spring and Kamada–Kawai positions are shifted and scaled by one
//! factor for both axes (the aspect ratio is kept, as NetworkX's `rescale_layout` keeps
//! it) so that the longer side spans `[0, 1]` and the shorter one is centred in it. A
//! single node sits at (½, ½).
//!
//! **Spring** — Fruchterman & Reingold, "Graph drawing by force-directed placement",
//! Software: Practice and Experience 21(11), 1991; transcribed from NetworkX's
//! `spring_layout` (`_fruchterman_reingold`): initial positions uniform in `[0,1)²` from
//! a ChaCha8 generator seeded with `seed`; optimal distance `k = 1/√n`; each iteration
//! moves every node by the sum of the repulsions `δ k²/d²` from every other node and the
//! attractions `−δ d/k` along its edges (`δ` the difference of positions, `d = max(|δ|,
//! 0.01)`), the step capped by a temperature `t` that starts at a tenth of the initial
//! extent and falls linearly to zero over 50 iterations; it stops early when the mean
//! displacement falls below `1e-4`. Edges attract with weight 1 (NetworkX reads the
//! `weight` attribute by default) and direction is ignored.
//!
//! **Kamada–Kawai** — Kamada & Kawai, "An algorithm for drawing general undirected
//! graphs", Information Processing Letters 31(1), 1989. The energy
//! `E = Σ_{i<j} (|x_i − x_j| / d_ij − 1)²`, with `d_ij` the hop distance (BFS, direction
//! ignored), is the stress of Gansner, Koren & North ("Graph drawing by stress
//! majorization", GD 2004) with weights `d_ij⁻²`; we minimise it by their localized
//! majorisation: each sweep sets, node by node,
//! `x_i ← Σ_j w_ij (x_j + d_ij (x_i − x_j)/|x_i − x_j|) / Σ_j w_ij`, which never raises
//! the energy. NetworkX minimises the same energy with SciPy's L-BFGS from a circular
//! layout; we also start from the circular layout (scaled to the graph's diameter, with
//! a seeded jitter of 10⁻³ to break symmetric saddles) and sweep until no node moves more
//! than 10⁻⁶ of the drawing's size, within a work budget: at most
//! `clamp(4·10⁸ / n², 30, 500)` sweeps (500 up to ~900 nodes, 100 at 2000, 30 from
//! ~3650; a sweep over 2000 nodes takes some 50 ms).
//! *Disconnected graphs*: a pair in different components gets `d = D + 1`, `D` the
//! largest finite distance, so components sit side by side at a readable distance
//! (NetworkX uses 10⁶, whose weight 10⁻¹² leaves components free to overlap). Up to
//! 4000 nodes the distances are one `n × n` `f32` matrix (64 MB at 4000 nodes); above,
//! each node's row is recomputed by BFS in every sweep (O(n) memory, slower).
//!
//! **Coordinates** — the extracted mycelium network ([`crate::network`],
//! `extract_network`) stores pixel coordinates: `x` the column, `y` the row, growing
//! downwards as image rows do. The renderer maps them to the canvas without flipping, so
//! the drawing overlays the field image.
//!
//! **Limits and cost.** [`Limits::max_layout_nodes`] is checked before any allocation,
//! and the error names it. Spring is exact O(n²) per iteration (no Barnes–Hut): about
//! 1 s at 2000 nodes and 25 s at 10 000 (the default limit) on one busy core; the
//! caller's [`Control`] is checked every iteration (every sweep for Kamada–Kawai), so
//! a deadline or cancel stops it.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tools::{Control, NoControl};
use crate::{Graph, GraphError, Limits, View};

/// A layout algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// `coordinates` when every node has numeric `x` and `y`, else `spring`.
    #[default]
    Auto,
    /// Fruchterman–Reingold force-directed layout (NetworkX `spring_layout`).
    Spring,
    /// Nodes in order on a circle (NetworkX `circular_layout`).
    Circular,
    /// Kamada–Kawai energy over graph-theoretic distances (NetworkX
    /// `kamada_kawai_layout`).
    KamadaKawai,
    /// The node attributes `x` and `y` (pixel coordinates of an extracted network).
    Coordinates,
}

impl Layout {
    /// The snake_case name (`kamada_kawai`).
    pub fn name(self) -> &'static str {
        match self {
            Layout::Auto => "auto",
            Layout::Spring => "spring",
            Layout::Circular => "circular",
            Layout::KamadaKawai => "kamada_kawai",
            Layout::Coordinates => "coordinates",
        }
    }

    /// The layout [`Layout::Auto`] stands for on `g`; any other layout is itself.
    pub fn resolve(self, g: &Graph) -> Layout {
        match self {
            Layout::Auto if g.num_nodes() > 0 && node_xy(g).is_ok() => Layout::Coordinates,
            Layout::Auto => Layout::Spring,
            other => other,
        }
    }
}

/// Nodes above which Kamada–Kawai recomputes distance rows instead of keeping the
/// `n × n` matrix.
pub const KK_MATRIX_MAX_NODES: usize = 4000;

/// Most Kamada–Kawai sweeps for `n` nodes: a budget of about 4·10⁸ pair updates,
/// between 30 and 500 sweeps.
fn kk_sweeps(n: usize) -> usize {
    (400_000_000 / (n * n).max(1)).clamp(30, 500)
}

/// Positions of the nodes of `g` (insertion order) under `layout`; see the module doc
/// for each algorithm and its range. [`Layout::Auto`] is resolved first
/// ([`Layout::resolve`]).
///
/// ```
/// use mfn_graph::{generators, layout::{layout, Layout}, Limits};
/// let g = generators::cycle("c", 4).unwrap();
/// let pos = layout(&g, Layout::Circular, 42, &Limits::default()).unwrap();
/// assert!((pos[0].0 - 1.0).abs() < 1e-12 && (pos[0].1 - 0.5).abs() < 1e-12);
/// ```
pub fn layout(
    g: &Graph,
    layout: Layout,
    seed: u64,
    limits: &Limits,
) -> Result<Vec<(f64, f64)>, GraphError> {
    layout_with(g, layout, seed, limits, &NoControl)
}

/// [`layout`] with cancellation: `control` is checked between iterations.
pub fn layout_with(
    g: &Graph,
    layout: Layout,
    seed: u64,
    limits: &Limits,
    control: &dyn Control,
) -> Result<Vec<(f64, f64)>, GraphError> {
    GraphError::check_limit(
        "nodes",
        g.num_nodes(),
        "max_layout_nodes",
        limits.max_layout_nodes,
    )?;
    match layout.resolve(g) {
        Layout::Circular => Ok(circular(g.num_nodes())),
        Layout::Coordinates => node_xy(g),
        Layout::KamadaKawai => kamada_kawai(&g.view(None)?, seed, control, KK_MATRIX_MAX_NODES),
        Layout::Spring | Layout::Auto => spring(&g.view(None)?, seed, control),
    }
}

/// The numeric `x`, `y` attributes of every node, or an error naming `layout` and the
/// first node without them.
fn node_xy(g: &Graph) -> Result<Vec<(f64, f64)>, GraphError> {
    g.nodes()
        .map(|(id, a)| {
            let num = |k: &str| a.get(k).and_then(serde_json::Value::as_f64);
            match (num("x"), num("y")) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Ok((x, y)),
                _ => Err(GraphError::invalid(
                    "layout",
                    format!("coordinates needs numeric attributes x and y on every node; node {id} has none"),
                )),
            }
        })
        .collect()
}

/// Nodes `0..n` on the circle of centre (½, ½), radius ½, counter-clockwise in the
/// maths sense from angle 0 (NetworkX `circular_layout`: `θ_i = 2πi/n`).
fn circular(n: usize) -> Vec<(f64, f64)> {
    if n == 1 {
        return vec![(0.5, 0.5)];
    }
    (0..n)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / n as f64;
            (0.5 + 0.5 * t.cos(), 0.5 + 0.5 * t.sin())
        })
        .collect()
}

/// Shift and scale (one factor for both axes) into `[0,1]²`, centring the shorter axis.
pub(crate) fn normalise(pos: &mut [(f64, f64)]) {
    if pos.is_empty() {
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pos.iter() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let span = (x1 - x0).max(y1 - y0);
    if !(span > 0.0 && span.is_finite()) {
        pos.iter_mut().for_each(|p| *p = (0.5, 0.5));
        return;
    }
    let (ox, oy) = (
        (1.0 - (x1 - x0) / span) / 2.0,
        (1.0 - (y1 - y0) / span) / 2.0,
    );
    for p in pos.iter_mut() {
        *p = (ox + (p.0 - x0) / span, oy + (p.1 - y0) / span);
    }
}

/// Undirected simple adjacency (no self-loops, no duplicates).
fn undirected(view: &View<'_>) -> Vec<Vec<usize>> {
    (0..view.n())
        .map(|i| view.undirected_neighbors(i))
        .collect()
}

/// Fruchterman–Reingold as NetworkX's `_fruchterman_reingold` (module doc).
fn spring(
    view: &View<'_>,
    seed: u64,
    control: &dyn Control,
) -> Result<Vec<(f64, f64)>, GraphError> {
    const ITERATIONS: usize = 50;
    const THRESHOLD: f64 = 1e-4;
    let n = view.n();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pos: Vec<(f64, f64)> = (0..n)
        .map(|_| (rng.random::<f64>(), rng.random::<f64>()))
        .collect();
    if n <= 1 {
        normalise(&mut pos);
        return Ok(pos);
    }
    // Edges once each, direction and self-loops ignored.
    let mut edges: Vec<(usize, usize)> = view
        .edges
        .iter()
        .filter(|e| e.0 != e.1)
        .map(|e| (e.0.min(e.1), e.0.max(e.1)))
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let k = (1.0 / n as f64).sqrt();
    let extent = |pos: &[(f64, f64)]| {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pos {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        (x1 - x0).max(y1 - y0)
    };
    let mut t = extent(&pos) * 0.1;
    let dt = t / (ITERATIONS as f64 + 1.0);
    let mut disp = vec![(0.0f64, 0.0f64); n];
    for it in 0..ITERATIONS {
        control.checkpoint(it as u64, ITERATIONS as u64)?;
        disp.iter_mut().for_each(|d| *d = (0.0, 0.0));
        // Repulsion between every pair: δ k²/d².
        for i in 0..n {
            let (xi, yi) = pos[i];
            let (mut ax, mut ay) = (0.0, 0.0);
            for (j, &(xj, yj)) in pos.iter().enumerate().skip(i + 1) {
                let (dx, dy) = (xi - xj, yi - yj);
                let d = (dx * dx + dy * dy).sqrt().max(0.01);
                let f = k * k / (d * d);
                ax += dx * f;
                ay += dy * f;
                disp[j].0 -= dx * f;
                disp[j].1 -= dy * f;
            }
            disp[i].0 += ax;
            disp[i].1 += ay;
        }
        // Attraction along edges: −δ d/k.
        for &(i, j) in &edges {
            let (dx, dy) = (pos[i].0 - pos[j].0, pos[i].1 - pos[j].1);
            let d = (dx * dx + dy * dy).sqrt().max(0.01);
            let f = d / k;
            disp[i].0 -= dx * f;
            disp[i].1 -= dy * f;
            disp[j].0 += dx * f;
            disp[j].1 += dy * f;
        }
        // Move by at most the temperature.
        let mut moved = 0.0;
        for (p, &(dx, dy)) in pos.iter_mut().zip(&disp) {
            let len = (dx * dx + dy * dy).sqrt();
            let len = if len < 0.01 { 0.1 } else { len };
            let (mx, my) = (dx * t / len, dy * t / len);
            p.0 += mx;
            p.1 += my;
            moved += mx * mx + my * my;
        }
        t -= dt;
        if moved.sqrt() / (n as f64) < THRESHOLD {
            break;
        }
    }
    normalise(&mut pos);
    Ok(pos)
}

/// BFS hop distances from `s` into `row` (`f32::INFINITY` when unreachable).
fn bfs_row(adj: &[Vec<usize>], s: usize, row: &mut [f32], queue: &mut VecDeque<usize>) {
    row.iter_mut().for_each(|d| *d = f32::INFINITY);
    row[s] = 0.0;
    queue.clear();
    queue.push_back(s);
    while let Some(u) = queue.pop_front() {
        let du = row[u] + 1.0;
        for &v in &adj[u] {
            if row[v].is_infinite() {
                row[v] = du;
                queue.push_back(v);
            }
        }
    }
}

/// Kamada–Kawai by localized stress majorisation (module doc).
fn kamada_kawai(
    view: &View<'_>,
    seed: u64,
    control: &dyn Control,
    matrix_max_nodes: usize,
) -> Result<Vec<(f64, f64)>, GraphError> {
    let n = view.n();
    if n <= 1 {
        return Ok(vec![(0.5, 0.5); n]);
    }
    let adj = undirected(view);
    let mut queue = VecDeque::new();
    let use_matrix = n <= matrix_max_nodes;
    let mut matrix: Vec<f32> = if use_matrix {
        vec![0.0; n * n]
    } else {
        Vec::new()
    };
    let mut row = vec![0.0f32; n];
    // Distances (kept when they fit) and the largest finite one.
    let mut dmax = 0.0f32;
    for s in 0..n {
        if s % 256 == 0 {
            control.checkpoint(s as u64, n as u64)?;
        }
        let r: &mut [f32] = if use_matrix {
            &mut matrix[s * n..(s + 1) * n]
        } else {
            &mut row
        };
        bfs_row(&adj, s, r, &mut queue);
        dmax = r
            .iter()
            .filter(|d| d.is_finite())
            .fold(dmax, |m, &d| m.max(d));
    }
    let far = dmax + 1.0;
    if use_matrix {
        matrix
            .iter_mut()
            .filter(|d| d.is_infinite())
            .for_each(|d| *d = far);
    }
    // Start: the circle, scaled to the diameter, with a seeded jitter.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let radius = f64::from(far) / 2.0;
    let mut pos: Vec<(f64, f64)> = circular(n)
        .into_iter()
        .map(|(x, y)| {
            let jx = (rng.random::<f64>() - 0.5) * 1e-3 * radius;
            let jy = (rng.random::<f64>() - 0.5) * 1e-3 * radius;
            ((x - 0.5) * 2.0 * radius + jx, (y - 0.5) * 2.0 * radius + jy)
        })
        .collect();
    let sweeps = kk_sweeps(n);
    let tol = 1e-6 * f64::from(far);
    for sweep in 0..sweeps {
        control.checkpoint(sweep as u64, sweeps as u64)?;
        let mut max_move = 0.0f64;
        for i in 0..n {
            let r: &[f32] = if use_matrix {
                &matrix[i * n..(i + 1) * n]
            } else {
                bfs_row(&adj, i, &mut row, &mut queue);
                row.iter_mut()
                    .filter(|d| d.is_infinite())
                    .for_each(|d| *d = far);
                &row
            };
            let (xi, yi) = pos[i];
            let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
            for (j, &(xj, yj)) in pos.iter().enumerate() {
                if j == i {
                    continue;
                }
                let d = f64::from(r[j]);
                let w = 1.0 / (d * d);
                let (dx, dy) = (xi - xj, yi - yj);
                let dist = (dx * dx + dy * dy).sqrt();
                let (tx, ty) = if dist > 1e-12 {
                    (xj + d * dx / dist, yj + d * dy / dist)
                } else {
                    (xj, yj)
                };
                sx += w * tx;
                sy += w * ty;
                sw += w;
            }
            let new = (sx / sw, sy / sw);
            max_move = max_move.max(((new.0 - xi).powi(2) + (new.1 - yi).powi(2)).sqrt());
            pos[i] = new;
        }
        if max_move < tol {
            break;
        }
    }
    normalise(&mut pos);
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generators;

    fn dist(a: (f64, f64), b: (f64, f64)) -> f64 {
        ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt()
    }

    #[test]
    fn deterministic_per_seed_and_in_unit_square() {
        let g = generators::karate_club("k").unwrap();
        let l = Limits::default();
        for lay in [Layout::Spring, Layout::KamadaKawai, Layout::Circular] {
            let a = layout(&g, lay, 7, &l).unwrap();
            let b = layout(&g, lay, 7, &l).unwrap();
            assert_eq!(a, b, "{lay:?}");
            assert_eq!(a.len(), 34);
            for &(x, y) in &a {
                assert!(
                    (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
                    "{lay:?}"
                );
            }
        }
        let a = layout(&g, Layout::Spring, 1, &l).unwrap();
        let b = layout(&g, Layout::Spring, 2, &l).unwrap();
        assert_ne!(a, b, "the seed matters");
        // Karate has no x, y: auto is spring.
        assert_eq!(Layout::Auto.resolve(&g), Layout::Spring);
        assert_eq!(layout(&g, Layout::Auto, 1, &l).unwrap(), a);
    }

    #[test]
    fn circular_on_the_circle_in_order() {
        let g = generators::path("p", 8).unwrap();
        let pos = layout(&g, Layout::Circular, 0, &Limits::default()).unwrap();
        for (i, &p) in pos.iter().enumerate() {
            assert!((dist(p, (0.5, 0.5)) - 0.5).abs() < 1e-12);
            let angle = (p.1 - 0.5)
                .atan2(p.0 - 0.5)
                .rem_euclid(std::f64::consts::TAU);
            assert!((angle - std::f64::consts::TAU * i as f64 / 8.0).abs() < 1e-9);
        }
    }

    #[test]
    fn kamada_kawai_unrolls_a_path() {
        let n = 10;
        let g = generators::path("p", n).unwrap();
        let pos = layout(&g, Layout::KamadaKawai, 42, &Limits::default()).unwrap();
        // Endpoints are the farthest pair.
        let ends = dist(pos[0], pos[n - 1]);
        for i in 0..n {
            for j in i + 1..n {
                if (i, j) != (0, n - 1) {
                    assert!(dist(pos[i], pos[j]) < ends, "({i},{j})");
                }
            }
        }
        // Collinear-ish: each node close to the segment between the endpoints.
        let (a, b) = (pos[0], pos[n - 1]);
        for &p in &pos {
            let cross = ((b.0 - a.0) * (p.1 - a.1) - (b.1 - a.1) * (p.0 - a.0)).abs() / ends;
            assert!(cross < 0.1, "off the line by {cross}");
        }
        // And in order along it.
        let proj: Vec<f64> = pos
            .iter()
            .map(|p| (p.0 - a.0) * (b.0 - a.0) + (p.1 - a.1) * (b.1 - a.1))
            .collect();
        assert!(proj.windows(2).all(|w| w[0] < w[1]), "{proj:?}");
    }

    fn two_cliques() -> Graph {
        let mut g = Graph::new("cc", false).unwrap();
        for base in [0i64, 10] {
            for i in 0..5 {
                for j in i + 1..5 {
                    g.add_edge((base + i).into(), (base + j).into(), Default::default());
                }
            }
        }
        g
    }

    fn separated(pos: &[(f64, f64)]) {
        let c = |r: std::ops::Range<usize>| {
            let k = r.len() as f64;
            let (x, y) = pos[r]
                .iter()
                .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
            (x / k, y / k)
        };
        let (c0, c1) = (c(0..5), c(5..10));
        let gap = dist(c0, c1);
        for i in 0..5 {
            assert!(dist(pos[i], c0) < gap / 2.0, "node {i}");
            assert!(dist(pos[i + 5], c1) < gap / 2.0, "node {}", i + 5);
        }
    }

    #[test]
    fn spring_and_kk_separate_disconnected_cliques() {
        let g = two_cliques();
        for seed in [0, 1, 42] {
            separated(&layout(&g, Layout::Spring, seed, &Limits::default()).unwrap());
        }
        separated(&layout(&g, Layout::KamadaKawai, 42, &Limits::default()).unwrap());
    }

    #[test]
    fn coordinates_are_the_attributes_exactly() {
        let mut g = Graph::new("xy", false).unwrap();
        for (i, (x, y)) in [(3.5, 100.0), (250.0, 7.25), (0.0, 0.0)].iter().enumerate() {
            let mut a = crate::Attrs::new();
            a.insert("x".into(), (*x).into());
            a.insert("y".into(), (*y).into());
            g.add_node((i as i64).into(), a);
        }
        g.add_edge(0.into(), 1.into(), Default::default());
        assert_eq!(Layout::Auto.resolve(&g), Layout::Coordinates);
        let pos = layout(&g, Layout::Auto, 0, &Limits::default()).unwrap();
        assert_eq!(pos, vec![(3.5, 100.0), (250.0, 7.25), (0.0, 0.0)]);
        g.add_node(9.into(), Default::default());
        assert_eq!(Layout::Auto.resolve(&g), Layout::Spring);
        let err = layout(&g, Layout::Coordinates, 0, &Limits::default()).unwrap_err();
        assert!(err.to_string().contains("node 9"), "{err}");
    }

    #[test]
    fn over_limit_names_max_layout_nodes() {
        let g = generators::path("p", 20).unwrap();
        let l = Limits {
            max_layout_nodes: 10,
            ..Limits::default()
        };
        for lay in [Layout::Spring, Layout::Circular, Layout::KamadaKawai] {
            let err = layout(&g, lay, 0, &l).unwrap_err();
            assert_eq!(err.to_string(), "nodes = 20 exceeds max_layout_nodes = 10");
        }
    }

    #[test]
    fn tiny_graphs() {
        let l = Limits::default();
        let empty = Graph::new("e", false).unwrap();
        let mut one = Graph::new("o", false).unwrap();
        one.add_node(1.into(), Default::default());
        for lay in [Layout::Spring, Layout::Circular, Layout::KamadaKawai] {
            assert!(layout(&empty, lay, 0, &l).unwrap().is_empty());
            assert_eq!(layout(&one, lay, 0, &l).unwrap(), vec![(0.5, 0.5)]);
        }
    }

    #[test]
    fn kk_rows_equal_matrix_and_cycle_is_a_ring() {
        let g = generators::cycle("c", 12).unwrap();
        let view = g.view(None).unwrap();
        let pos = kamada_kawai(&view, 3, &NoControl, KK_MATRIX_MAX_NODES).unwrap();
        // The BFS-per-row path (large graphs) computes the same thing.
        assert_eq!(kamada_kawai(&view, 3, &NoControl, 0).unwrap(), pos);
        // A cycle draws as a ring: every node about equally far from the centroid.
        let (cx, cy) = pos
            .iter()
            .fold((0.0, 0.0), |s, p| (s.0 + p.0 / 12.0, s.1 + p.1 / 12.0));
        let r: Vec<f64> = pos.iter().map(|&p| dist(p, (cx, cy))).collect();
        let (lo, hi) = r
            .iter()
            .fold((f64::MAX, 0.0f64), |m, &v| (m.0.min(v), m.1.max(v)));
        assert!(hi - lo < 0.05, "{r:?}");
    }
}
