//! Network extraction: known shapes, thinning invariants, random masks, a real field.

use std::collections::BTreeSet;
use std::f64::consts::SQRT_2;

use mfn_core::field::{Simulation, SimulationParams};
use mfn_core::network::*;
use proptest::prelude::*;

fn all(min_branch_px: usize) -> GraphOptions {
    GraphOptions { min_branch_px }
}

fn kinds(g: &SkeletonGraph) -> (usize, usize, usize, usize) {
    let c = |k| g.nodes.iter().filter(|n| n.kind == k).count();
    (
        c(NodeKind::Junction),
        c(NodeKind::Tip),
        c(NodeKind::Chain),
        c(NodeKind::Isolated),
    )
}

/// Structural checks every graph must pass: valid, simple, kinds = degrees, lengths at
/// least the chord, ends at the nodes.
fn check_graph(g: &SkeletonGraph) {
    let mut deg = vec![0usize; g.nodes.len()];
    let mut pairs = BTreeSet::new();
    for e in &g.edges {
        assert!(e.u < e.v && e.v < g.nodes.len(), "bad ends {e:?}");
        assert!(pairs.insert((e.u, e.v)), "parallel edge {e:?}");
        deg[e.u] += 1;
        deg[e.v] += 1;
        let (a, b) = (&g.nodes[e.u], &g.nodes[e.v]);
        assert_eq!(e.start, (a.x, a.y));
        assert_eq!(e.end, (b.x, b.y));
        let chord = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
        assert!(e.length.is_finite() && e.length >= chord - 1e-9, "{e:?}");
        assert!(e.pixels >= 2);
    }
    for (n, d) in g.nodes.iter().zip(&deg) {
        let want = match d {
            0 => NodeKind::Isolated,
            1 => NodeKind::Tip,
            2 => NodeKind::Chain,
            _ => NodeKind::Junction,
        };
        assert_eq!(n.kind, want, "{n:?} has degree {d}");
        assert!(n.pixels >= 1);
        assert!(n.x >= 0.0 && n.y >= 0.0 && n.x < g.width as f64 && n.y < g.height as f64);
    }
}

/// With nothing pruned, every skeleton pixel is in exactly one node or edge interior.
fn pixel_identity(g: &SkeletonGraph, skel: &Mask) {
    let e: usize = g.edges.iter().map(|e| e.pixels - 2).sum();
    let n: usize = g.nodes.iter().map(|n| n.pixels).sum();
    assert_eq!(e + n, skel.count());
}

fn set_neighbours(m: &Mask, x: usize, y: usize) -> usize {
    let mut c = 0;
    for dy in -1i64..=1 {
        for dx in -1i64..=1 {
            let (xx, yy) = (x as i64 + dx, y as i64 + dy);
            if (dx, dy) != (0, 0) && xx >= 0 && yy >= 0 && m.get(xx as usize, yy as usize) {
                c += 1;
            }
        }
    }
    c
}

/// Slow reference: can (x, y) be deleted without changing the topology? Its set
/// 8-neighbours form one 8-connected group (searched within the 3×3 window) and one of
/// its 4-neighbours is background.
fn removable(m: &Mask, x: usize, y: usize) -> bool {
    let at = |dx: i64, dy: i64| {
        let (xx, yy) = (x as i64 + dx, y as i64 + dy);
        xx >= 0 && yy >= 0 && m.get(xx as usize, yy as usize)
    };
    let cells: Vec<(i64, i64)> = (-1..=1)
        .flat_map(|dy| (-1..=1).map(move |dx| (dx, dy)))
        .filter(|&(dx, dy)| (dx, dy) != (0, 0) && at(dx, dy))
        .collect();
    let mut group = vec![usize::MAX; cells.len()];
    let mut groups = 0;
    for s in 0..cells.len() {
        if group[s] != usize::MAX {
            continue;
        }
        let mut stack = vec![s];
        group[s] = groups;
        while let Some(i) = stack.pop() {
            for j in 0..cells.len() {
                let (a, b) = (cells[i], cells[j]);
                if group[j] == usize::MAX && (a.0 - b.0).abs() <= 1 && (a.1 - b.1).abs() <= 1 {
                    group[j] = groups;
                    stack.push(j);
                }
            }
        }
        groups += 1;
    }
    let bg4 = !at(0, -1) || !at(0, 1) || !at(-1, 0) || !at(1, 0);
    groups == 1 && bg4
}

fn check_thinning(m: &Mask) {
    let s = thin(m);
    assert_eq!((s.width, s.height), (m.width, m.height));
    for (k, (&a, &b)) in s.bits.iter().zip(&m.bits).enumerate() {
        assert!(!a || b, "skeleton pixel {k} not in the mask");
    }
    assert_eq!(
        s.component_count(),
        m.component_count(),
        "components changed"
    );
    assert_eq!(thin(&s), s, "not idempotent");
    for y in 0..s.height.saturating_sub(1) {
        for x in 0..s.width.saturating_sub(1) {
            let block = [(x, y), (x + 1, y), (x, y + 1), (x + 1, y + 1)];
            if block.iter().all(|&(a, b)| s.get(a, b)) {
                for &(a, b) in &block {
                    assert!(
                        !removable(&s, a, b),
                        "2x2 block at ({x},{y}) with a removable pixel\n{}",
                        s.to_ascii()
                    );
                }
            }
        }
    }
}

fn plus_mask(half_width: usize, arm: usize) -> Mask {
    let size = 2 * arm + 5;
    let c = size / 2;
    Mask::from_fn(size, size, |x, y| {
        (x.abs_diff(c) <= half_width && y.abs_diff(c) <= arm)
            || (y.abs_diff(c) <= half_width && x.abs_diff(c) <= arm)
    })
}

fn ring_mask(size: usize, r_in: f64, r_out: f64) -> Mask {
    let c = (size as f64 - 1.0) / 2.0;
    Mask::from_fn(size, size, |x, y| {
        let r = ((x as f64 - c).powi(2) + (y as f64 - c).powi(2)).sqrt();
        r >= r_in && r < r_out
    })
}

/// An H: two vertical bars joined by a horizontal bar, `t` pixels thick.
fn h_mask(t: usize) -> Mask {
    let (w, h) = (24 + 2 * t, 30);
    Mask::from_fn(w, h, |x, y| {
        let left = (3..3 + t).contains(&x) && (3..27).contains(&y);
        let right = (w - 3 - t..w - 3).contains(&x) && (3..27).contains(&y);
        let bar = (3..w - 3).contains(&x) && (15 - t / 2..15 - t / 2 + t).contains(&y);
        left || right || bar
    })
}

// ---------------------------------------------------------------------------------------
// Known shapes (GRAPH.md).

#[test]
fn plus_has_one_junction_four_tips_four_edges() {
    let m = plus_mask(0, 10);
    assert_eq!(thin(&m), m, "a one-pixel plus is already thin");
    let g = skeleton_graph(&m, &GraphOptions::default());
    check_graph(&g);
    assert_eq!(kinds(&g), (1, 4, 0, 0));
    assert_eq!(g.edges.len(), 4);
    // The junction is at the centre and each arm is 10 long: 40 in all.
    let j = g
        .nodes
        .iter()
        .find(|n| n.kind == NodeKind::Junction)
        .unwrap();
    assert_eq!((j.x, j.y), (12.0, 12.0));
    for e in &g.edges {
        assert!((e.length - 10.0).abs() < 1e-12, "{e:?}");
    }
    pixel_identity(&skeleton_graph(&m, &all(0)), &m);
}

#[test]
fn h_has_two_junctions_four_tips_five_edges() {
    let m = h_mask(1);
    assert_eq!(thin(&m), m);
    let g = skeleton_graph(&m, &GraphOptions::default());
    check_graph(&g);
    assert_eq!(kinds(&g), (2, 4, 0, 0));
    assert_eq!(g.edges.len(), 5);
    // Exactly one edge joins the two junctions (the bar).
    let bars = g
        .edges
        .iter()
        .filter(|e| {
            g.nodes[e.u].kind == NodeKind::Junction && g.nodes[e.v].kind == NodeKind::Junction
        })
        .count();
    assert_eq!(bars, 1);
}

#[test]
fn ring_is_one_cycle_of_three_chain_nodes() {
    for (size, r_in, r_out) in [
        (40, 10.0, 15.0),
        (30, 8.0, 10.0),
        (50, 12.0, 20.0),
        (20, 4.0, 6.5),
    ] {
        let m = ring_mask(size, r_in, r_out);
        let s = thin(&m);
        check_thinning(&m);
        // No junction pixel, no tip: every skeleton pixel has exactly two neighbours.
        for y in 0..size {
            for x in 0..size {
                if s.get(x, y) {
                    assert_eq!(
                        set_neighbours(&s, x, y),
                        2,
                        "ring {r_in}..{r_out} at ({x},{y})\n{}",
                        s.to_ascii()
                    );
                }
            }
        }
        let g = skeleton_graph(&s, &GraphOptions::default());
        check_graph(&g);
        assert_eq!(kinds(&g), (0, 0, 3, 0), "ring {r_in}..{r_out}");
        assert_eq!(g.edges.len(), 3);
        // Equal spacing: the three arcs hold nearly the same number of pixels.
        let px: Vec<usize> = g.edges.iter().map(|e| e.pixels).collect();
        assert!(
            px.iter().max().unwrap() - px.iter().min().unwrap() <= 1,
            "{px:?}"
        );
        pixel_identity(&skeleton_graph(&s, &all(0)), &s);
    }
}

#[test]
fn straight_line_has_two_tips_and_length_n_minus_1() {
    for n in [2usize, 3, 5, 17] {
        let m = Mask::from_fn(n + 2, 3, |x, y| y == 1 && (1..=n).contains(&x));
        assert_eq!(thin(&m), m);
        let g = skeleton_graph(&m, &GraphOptions::default());
        check_graph(&g);
        assert_eq!(kinds(&g), (0, 2, 0, 0), "n = {n}");
        assert_eq!(g.edges.len(), 1);
        assert_eq!(g.edges[0].length, (n - 1) as f64);
        assert_eq!(g.edges[0].pixels, n);
    }
}

#[test]
fn diagonal_line_has_length_n_minus_1_times_sqrt2() {
    for n in [2usize, 4, 13] {
        let m = Mask::from_fn(n, n, |x, y| x == y);
        assert_eq!(thin(&m), m);
        let g = skeleton_graph(&m, &GraphOptions::default());
        check_graph(&g);
        assert_eq!(kinds(&g), (0, 2, 0, 0));
        assert!((g.edges[0].length - (n - 1) as f64 * SQRT_2).abs() < 1e-9);
    }
}

#[test]
fn thick_shapes_thin_to_the_same_topology() {
    for hw in [1usize, 2, 3] {
        let m = plus_mask(hw, 14);
        check_thinning(&m);
        let g = skeleton_graph(&thin(&m), &GraphOptions::default());
        check_graph(&g);
        assert_eq!(
            kinds(&g),
            (1, 4, 0, 0),
            "plus of width {}\n{}",
            2 * hw + 1,
            thin(&m).to_ascii()
        );
        assert_eq!(g.edges.len(), 4);
    }
    for t in [2usize, 3, 5] {
        let m = h_mask(t);
        check_thinning(&m);
        let g = skeleton_graph(&thin(&m), &GraphOptions::default());
        check_graph(&g);
        assert_eq!(
            kinds(&g),
            (2, 4, 0, 0),
            "H of width {t}\n{}",
            thin(&m).to_ascii()
        );
        assert_eq!(g.edges.len(), 5);
    }
}

#[test]
fn isolated_pixels_and_blobs_are_isolated_nodes() {
    let m = Mask::from_ascii(
        "
        #....
        .....
        ...##
        ...##
        ",
    )
    .unwrap();
    // Raw (unthinned) 2×2 block: one junction cluster with no edges.
    let g = skeleton_graph(&m, &all(0));
    check_graph(&g);
    assert_eq!(kinds(&g), (0, 0, 0, 2));
    assert_eq!(g.nodes[1].pixels, 4);
    assert_eq!((g.nodes[1].x, g.nodes[1].y), (3.5, 2.5));
    pixel_identity(&g, &m);
    // Thinned: the block does not vanish (parallel Zhang–Suen deletes all four).
    let s = thin(&m);
    assert_eq!(s.component_count(), 2);
    check_thinning(&m);
}

#[test]
fn an_x_of_diagonals_keeps_its_irreducible_centre_block() {
    // Four one-pixel diagonals meeting at a 2×2 block: any deletion cuts a leg off.
    let m = Mask::from_fn(10, 10, |x, y| x == y || x + y == 9);
    assert_eq!(thin(&m), m);
    check_thinning(&m);
    let g = skeleton_graph(&m, &GraphOptions::default());
    check_graph(&g);
    assert_eq!(kinds(&g), (1, 4, 0, 0));
}

#[test]
fn spur_pruning_and_merging() {
    // A line with a 2-pixel side branch: pruned at 3, kept at 0.
    let m = Mask::from_ascii(
        "
        ...........
        .#########.
        .....#.....
        .....#.....
        ...........
        ",
    )
    .unwrap();
    let g0 = skeleton_graph(&m, &all(0));
    check_graph(&g0);
    assert_eq!(kinds(&g0), (1, 3, 0, 0));
    pixel_identity(&g0, &m);
    let g3 = skeleton_graph(&m, &all(3));
    check_graph(&g3);
    // The junction dissolves: one edge from end to end, length 8.
    assert_eq!(kinds(&g3), (0, 2, 0, 0));
    assert_eq!(g3.edges.len(), 1);
    // Through the dissolved junction's centroid (5, 1.25): 2 + 2·√(2² + ¼) + 2.
    let via = 4.0 + 2.0 * (4.0f64 + 0.0625).sqrt();
    assert!(
        (g3.edges[0].length - via).abs() < 1e-12,
        "{:?}",
        g3.edges[0]
    );
    // A star of three short spurs keeps its longest: never an empty component.
    let star = Mask::from_ascii(
        "
        #...#
        .#.#.
        ..#..
        ..#..
        ..#..
        ",
    )
    .unwrap();
    let g = skeleton_graph(&star, &all(10));
    check_graph(&g);
    assert_eq!(g.edges.len(), 1);
    assert_eq!(kinds(&g), (0, 2, 0, 0));
}

#[test]
fn parallel_edges_and_loops_at_a_junction_are_split() {
    // Two junctions joined by two chains (a lens) plus a tail at each end.
    let m = Mask::from_ascii(
        "
        .............
        ....#####....
        ...#.....#...
        ###.......###
        ...#.....#...
        ....#####....
        .............
        ",
    )
    .unwrap();
    let g = skeleton_graph(&m, &all(0));
    check_graph(&g);
    assert_eq!(kinds(&g), (2, 2, 1, 0));
    assert_eq!(g.edges.len(), 5);
    pixel_identity(&g, &m);
    // A loop hanging off a tail: the loop gets two chain nodes.
    let lollipop = Mask::from_ascii(
        "
        ..........
        ......###.
        .....#...#
        #####....#
        .....#...#
        ......###.
        ",
    )
    .unwrap();
    let g = skeleton_graph(&lollipop, &all(0));
    check_graph(&g);
    assert_eq!(kinds(&g), (1, 1, 2, 0));
    assert_eq!(g.edges.len(), 4);
    pixel_identity(&g, &lollipop);
}

#[test]
fn graph_order_is_raster_order() {
    let g = skeleton_graph(&h_mask(1), &GraphOptions::default());
    let firsts: Vec<(f64, f64)> = g.nodes.iter().map(|n| (n.y, n.x)).collect();
    // Tips at the top come first, bottom tips last.
    assert!(firsts[0].0 < firsts[firsts.len() - 1].0);
    assert_eq!(g, skeleton_graph(&h_mask(1), &GraphOptions::default()));
}

// ---------------------------------------------------------------------------------------
// Masks.

#[test]
fn otsu_splits_a_bimodal_image_between_its_modes() {
    // Two noisy modes around 40 and 200 (8-bit grey), deterministic jitter.
    let gray: Vec<f64> = (0..400)
        .map(|k| {
            let jitter = ((k * 7919) % 41) as f64 - 20.0;
            if k % 3 == 0 {
                200.0 + jitter
            } else {
                40.0 + jitter
            }
        })
        .collect();
    let t = otsu_threshold(&gray).unwrap();
    assert!(t > 60.0 && t < 180.0, "t = {t}");
    // Scale-free: the same image in 0..1 gives the same split.
    let unit: Vec<f64> = gray.iter().map(|g| g / 255.0).collect();
    let m8 = mask_from_gray(&gray, 20, 20, &GrayMaskOptions::default()).unwrap();
    let m1 = mask_from_gray(&unit, 20, 20, &GrayMaskOptions::default()).unwrap();
    assert_eq!(m8, m1);
    assert_eq!(m8.count(), (0..400).filter(|k| k % 3 == 0).count());
    let inv = GrayMaskOptions {
        invert: true,
        ..Default::default()
    };
    assert_eq!(
        mask_from_gray(&gray, 20, 20, &inv).unwrap().count(),
        400 - m8.count()
    );
    assert_eq!(otsu_threshold(&[3.0; 5]).unwrap(), 3.0);
    assert!(otsu_threshold(&[]).is_err());
}

#[test]
fn field_masks_fixed_median_otsu() {
    let n = 8;
    let field: Vec<f64> = (0..n * n).map(|k| -0.080 + 0.0005 * k as f64).collect();
    let fixed = mask_from_field(&field, n, &MaskOptions::default()).unwrap();
    // −80 + 0.5k > −60  ⇔  k > 40.
    assert_eq!(fixed.count(), 23);
    let med = MaskOptions {
        threshold: MaskThreshold::AdaptiveMedian,
        ..Default::default()
    };
    assert_eq!(mask_from_field(&field, n, &med).unwrap().count(), 32);
    let otsu = MaskOptions {
        threshold: MaskThreshold::Otsu,
        ..Default::default()
    };
    let c = mask_from_field(&field, n, &otsu).unwrap().count();
    assert!((28..=36).contains(&c), "{c}");
}

#[test]
fn bad_inputs_name_the_field() {
    let o = MaskOptions::default();
    let field = |e: mfn_core::CoreError| e.field();
    assert_eq!(field(mask_from_field(&[], 0, &o).unwrap_err()), Some("n"));
    assert_eq!(
        field(mask_from_field(&[0.0; 3], 2, &o).unwrap_err()),
        Some("field")
    );
    assert_eq!(
        field(mask_from_field(&[f64::NAN; 4], 2, &o).unwrap_err()),
        Some("field")
    );
    let bad = MaskOptions {
        threshold: MaskThreshold::FixedMv(f64::INFINITY),
        ..o
    };
    assert_eq!(
        field(mask_from_field(&[0.0; 4], 2, &bad).unwrap_err()),
        Some("threshold_mv")
    );
    let bad = MaskOptions {
        min_component_px: MAX_MIN_PX + 1,
        ..o
    };
    assert_eq!(
        field(mask_from_field(&[0.0; 4], 2, &bad).unwrap_err()),
        Some("min_component_px")
    );
    let bad = ExtractOptions {
        graph: GraphOptions {
            min_branch_px: MAX_MIN_PX + 1,
        },
        ..Default::default()
    };
    assert_eq!(
        field(extract(&[0.0; 4], 2, &bad).unwrap_err()),
        Some("min_branch_px")
    );
    assert_eq!(
        field(mask_from_gray(&[0.0; 4], 3, 1, &GrayMaskOptions::default()).unwrap_err()),
        Some("image")
    );
    let bad = GrayMaskOptions {
        threshold: GrayThreshold::Level(f64::NAN),
        ..Default::default()
    };
    assert_eq!(
        field(mask_from_gray(&[0.0; 4], 2, 2, &bad).unwrap_err()),
        Some("threshold_level")
    );
}

#[test]
fn opening_closing_and_small_components() {
    let m = Mask::from_ascii(
        "
        #.........
        ..#####...
        ..#####...
        ..#####...
        ..#####...
        ..#####...
        ..........
        ",
    )
    .unwrap();
    // Opening removes the speck and keeps the square.
    let o = opening(&m);
    assert!(!o.get(0, 0));
    assert_eq!(o.count(), 25);
    // Closing fills a pinhole and adds nothing else, even at the border.
    let mut holed = m.clone();
    holed.bits[3 * 10 + 4] = false;
    let c = closing(&holed);
    assert!(c.get(4, 3));
    assert_eq!(c, m);
    let edge = Mask::from_ascii("#.#\n###\n...").unwrap();
    assert_eq!(closing(&edge).to_ascii(), "###\n###\n...\n");
    // Through mask_from_field: threshold 0 mV on ±1 V.
    let opts = MaskOptions {
        opening: true,
        closing: true,
        min_component_px: 1,
        threshold: MaskThreshold::FixedMv(0.0),
    };
    let field: Vec<f64> = (0..100)
        .map(|k| if k < 70 && holed.bits[k] { 1.0 } else { -1.0 })
        .collect();
    // Opening first: the holed square does not hold a 3×3 square away from the hole
    // everywhere, so only its far corners survive the opening.
    let oc = mask_from_field(&field, 10, &opts).unwrap();
    assert!(oc.count() < 25 && !oc.get(0, 0));
    assert_eq!(remove_small_components(&m, 2).count(), m.count() - 1);
    assert_eq!(remove_small_components(&m, 25).count(), 25);
    assert_eq!(remove_small_components(&m, 26).count(), 0);
}

#[test]
fn options_json_uses_the_tool_names() {
    let o: ExtractOptions = serde_json::from_str(
        r#"{"threshold": "fixed", "threshold_mv": -55.5, "opening": true, "closing": false,
            "min_component_px": 4, "min_branch_px": 2}"#,
    )
    .unwrap();
    assert_eq!(o.mask.threshold, MaskThreshold::FixedMv(-55.5));
    assert_eq!(
        (
            o.mask.opening,
            o.mask.min_component_px,
            o.graph.min_branch_px
        ),
        (true, 4, 2)
    );
    let back: ExtractOptions = serde_json::from_value(serde_json::to_value(o).unwrap()).unwrap();
    assert_eq!(back, o);
    assert_eq!(
        serde_json::from_str::<ExtractOptions>("{}").unwrap(),
        ExtractOptions::default()
    );
    let e = serde_json::from_str::<ExtractOptions>(r#"{"min_branch_px": 99999999}"#).unwrap_err();
    assert!(e.to_string().contains("min_branch_px"), "{e}");
    let schema = serde_json::to_value(schemars::schema_for!(ExtractOptions)).unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "threshold",
        "threshold_mv",
        "opening",
        "closing",
        "min_component_px",
        "min_branch_px",
    ] {
        assert!(props.contains_key(key), "schema lacks {key}: {schema}");
    }
}

#[test]
fn box_dimension_of_skeletons() {
    let line = Mask::from_fn(64, 40, |_, y| y == 20);
    assert!((box_dimension(&line).unwrap() - 1.0).abs() < 0.05);
    assert!(box_dimension(&Mask::empty(0, 0)).is_err());
}

#[test]
fn simulated_field_extracts_a_consistent_network() {
    let params = SimulationParams {
        grid_size: 64,
        steps: 100,
        ..Default::default()
    };
    let mut sim = Simulation::new(&params, 42).unwrap();
    for _ in 0..100 {
        sim.step().unwrap();
    }
    let opts = ExtractOptions {
        mask: MaskOptions {
            threshold: MaskThreshold::AdaptiveMedian,
            ..Default::default()
        },
        ..Default::default()
    };
    let x = extract(sim.field(), 64, &opts).unwrap();
    let c = x.mask.count();
    assert!(
        c > 64 * 64 / 3 && c <= 64 * 64 / 2,
        "median mask holds {c} cells"
    );
    check_thinning(&x.mask);
    check_graph(&x.graph);
    assert!(!x.graph.edges.is_empty());
    assert_eq!(x.skeleton.component_count(), x.mask.component_count());
    let unpruned = skeleton_graph(&x.skeleton, &all(0));
    check_graph(&unpruned);
    pixel_identity(&unpruned, &x.skeleton);
    assert!(box_dimension(&x.skeleton).unwrap() > 0.5);
    // Same input, same bytes.
    assert_eq!(extract(sim.field(), 64, &opts).unwrap(), x);
}

// ---------------------------------------------------------------------------------------
// Properties of random masks.

fn random_mask() -> impl Strategy<Value = Mask> {
    (1usize..24, 1usize..24, 5u8..95, any::<bool>()).prop_flat_map(|(w, h, density, blobs)| {
        prop::collection::vec(0u8..100, w * h).prop_map(move |v| {
            let m = Mask::new(w, h, v.iter().map(|&r| r < density).collect()).unwrap();
            if blobs { closing(&m) } else { m }
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn thinning_invariants(m in random_mask()) {
        check_thinning(&m);
    }

    #[test]
    fn graphs_of_skeletons_are_consistent(m in random_mask(), min_branch in 0usize..6) {
        let s = thin(&m);
        let g = skeleton_graph(&s, &all(min_branch));
        check_graph(&g);
        if min_branch == 0 {
            pixel_identity(&g, &s);
        }
    }

    #[test]
    fn graphs_of_raw_masks_never_panic(m in random_mask(), min_branch in 0usize..6) {
        let g = skeleton_graph(&m, &all(min_branch));
        check_graph(&g);
        if min_branch == 0 {
            pixel_identity(&g, &m);
        }
    }
}
