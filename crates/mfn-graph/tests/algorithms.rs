//! Algorithms on small graphs whose values can be checked by hand, and on Zachary's
//! karate club against values printed in the NetworkX documentation and literature.

use mfn_graph::algo::community::Method;
use mfn_graph::algo::structure::{ColorStrategy, MstAlgorithm};
use mfn_graph::algo::{centrality, community, paths, structure};
use mfn_graph::{Attrs, Graph, GraphError, Limits, NodeId, generators};

fn graph(directed: bool, edges: &[(i64, i64, f64)]) -> Graph {
    let mut g = Graph::new("t", directed).unwrap();
    for &(u, v, w) in edges {
        let mut a = Attrs::new();
        a.insert("weight".into(), w.into());
        g.add_edge(u.into(), v.into(), a);
    }
    g
}

fn approx(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} vs {b}");
}

#[test]
fn betweenness_of_a_path() {
    // P4: nodes 1 and 2 lie on 2 of the 3 pairs of other nodes.
    let g = generators::path("p", 4).unwrap();
    let opts = centrality::BetweennessOptions {
        normalized: true,
        ..Default::default()
    };
    let b = centrality::betweenness_centrality(&g, &opts, &Limits::default()).unwrap();
    assert_eq!(b, vec![0.0, 2.0 / 3.0, 2.0 / 3.0, 0.0]);
    // Raw undirected counts are halved: 2 pairs each.
    let raw = centrality::BetweennessOptions {
        normalized: false,
        ..Default::default()
    };
    let b = centrality::betweenness_centrality(&g, &raw, &Limits::default()).unwrap();
    assert_eq!(b, vec![0.0, 2.0, 2.0, 0.0]);
    // Weighted path with the same structure gives the same values, through Dijkstra.
    let w = centrality::BetweennessOptions {
        normalized: true,
        weight: Some("weight".into()),
        ..Default::default()
    };
    let b = centrality::betweenness_centrality(&g, &w, &Limits::default()).unwrap();
    assert_eq!(b, vec![0.0, 2.0 / 3.0, 2.0 / 3.0, 0.0]);
    // Sampling every node is the exact value.
    let k = centrality::BetweennessOptions {
        normalized: true,
        k: Some(4),
        seed: 3,
        ..Default::default()
    };
    let b = centrality::betweenness_centrality(&g, &k, &Limits::default()).unwrap();
    for (x, y) in b.iter().zip([0.0, 2.0 / 3.0, 2.0 / 3.0, 0.0]) {
        approx(*x, y, 1e-15);
    }
}

#[test]
fn weighted_betweenness_follows_the_light_path() {
    // Square 0-1-2 and 0-3-2 where the route through 3 is heavier: only 1 carries 0↔2.
    let g = graph(false, &[(0, 1, 1.0), (1, 2, 1.0), (0, 3, 5.0), (3, 2, 5.0)]);
    let opts = centrality::BetweennessOptions {
        normalized: false,
        weight: Some("weight".into()),
        ..Default::default()
    };
    let b = centrality::betweenness_centrality(&g, &opts, &Limits::default()).unwrap();
    // 0↔2 goes through 1 (2 < 10); 1↔3 ties (6 = 6) and splits between 0 and 2.
    assert_eq!(b[1], 1.0);
    assert_eq!(b[0], 0.5);
    assert_eq!(b[3], 0.0);
}

#[test]
fn closeness_of_a_star_and_a_directed_chain() {
    let g = generators::star("s", 4).unwrap();
    let c = centrality::closeness_centrality(&g, None, true, &Limits::default()).unwrap();
    assert_eq!(c[0], 1.0);
    approx(c[1], 4.0 / 7.0, 1e-15);
    // Directed 0 → 1 → 2: incoming distances. Node 2 is reached by 2 nodes at 1 and 2
    // hops: (2/3)·(2/2) = 2/3; node 1 by one node: (1/1)·(1/2).
    let d = graph(true, &[(0, 1, 1.0), (1, 2, 1.0)]);
    let c = centrality::closeness_centrality(&d, None, true, &Limits::default()).unwrap();
    assert_eq!(c, vec![0.0, 0.5, 2.0 / 3.0]);
    // Weighted: distances are weights.
    let w = graph(true, &[(0, 1, 2.0), (1, 2, 2.0)]);
    let c = centrality::closeness_centrality(&w, Some("weight"), true, &Limits::default()).unwrap();
    assert_eq!(c, vec![0.0, 0.25, 1.0 / 3.0]);
}

#[test]
fn degree_centrality_directed_counts_in_and_out() {
    let d = graph(true, &[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 1.0)]);
    assert_eq!(centrality::degree_centrality(&d), vec![1.0, 1.5, 0.5]);
}

#[test]
fn pagerank_dangling_node_and_personalization() {
    // 0 → 1, 1 dangling: x1 = α x0 + α x1 / 2 + (1−α)/2 and x0 = α x1 / 2 + (1−α)/2.
    let d = graph(true, &[(0, 1, 1.0)]);
    let pr = centrality::pagerank(&d, &Default::default()).unwrap();
    let a = 0.85;
    // With x0 + x1 = 1: x1 = ((1 + α)/2) / (1 + α/2).
    let x1_exact = (1.0 + a) / 2.0 / (1.0 + a / 2.0);
    approx(pr[1], x1_exact, 1e-5);
    approx(pr[0] + pr[1], 1.0, 1e-12);
    // All personalization on node 0 of an undirected edge: symmetric chain.
    let mut opts = centrality::PageRankOptions {
        personalization: Some([(NodeId::Int(0), 1.0)].into_iter().collect()),
        ..Default::default()
    };
    let u = graph(false, &[(0, 1, 1.0)]);
    let pr = centrality::pagerank(&u, &opts).unwrap();
    // x0 = a x1 + (1−a), x1 = a x0  →  x0 = 1/(1+a).
    approx(pr[0], 1.0 / (1.0 + a), 1e-5);
    opts.personalization = Some([(NodeId::Int(9), 1.0)].into_iter().collect());
    let err = centrality::pagerank(&u, &opts).unwrap_err();
    assert_eq!(err.to_string(), "personalization: node 9 not in graph");
}

#[test]
fn eigenvector_of_a_star() {
    // Star K1,4: hub/leaf ratio √4 = 2; normalised to unit length.
    let g = generators::star("s", 4).unwrap();
    let e = centrality::eigenvector_centrality(&g, None, 1000, 1e-9).unwrap();
    approx(e[0] / e[1], 2.0, 1e-6);
    approx(e.iter().map(|x| x * x).sum::<f64>(), 1.0, 1e-12);
}

#[test]
fn karate_club_reference_values() {
    let g = generators::karate_club("k").unwrap();
    assert_eq!((g.num_nodes(), g.num_edges()), (34, 78));
    assert_eq!(g.node_attrs(&NodeId::Int(0)).unwrap()["club"], "Mr. Hi");
    assert_eq!(g.node_attrs(&NodeId::Int(33)).unwrap()["club"], "Officer");
    let deg = centrality::degree_centrality(&g);
    assert_eq!(deg[33], 17.0 / 33.0);
    assert_eq!(deg[0], 16.0 / 33.0);
    let b = centrality::betweenness_centrality(
        &g,
        &centrality::BetweennessOptions {
            normalized: true,
            ..Default::default()
        },
        &Limits::default(),
    )
    .unwrap();
    // nx.betweenness_centrality(nx.karate_club_graph())[0]
    approx(b[0], 0.43763528138528146, 1e-12);
    let c = structure::clustering(&g).unwrap();
    // nx.average_clustering(G) = 0.5706384782076823, nx.transitivity(G) = 0.2556818181818182
    approx(c.iter().sum::<f64>() / 34.0, 0.5706384782076823, 1e-12);
    approx(
        structure::transitivity(&g).unwrap().unwrap(),
        0.2556818181818182,
        1e-12,
    );
    let s = structure::statistics(&g, &Limits::default()).unwrap();
    assert_eq!((s.diameter, s.radius), (Some(5.0), Some(3.0)));
    approx(s.density, 78.0 / (34.0 * 33.0 / 2.0), 1e-15);
    let core = structure::core_number(&g).unwrap();
    assert_eq!(*core.iter().max().unwrap(), 4);
    let (comms, q) = community::detect(&g, Method::Louvain, Some("weight"), 1.0, 0).unwrap();
    assert!(q > 0.40, "louvain modularity {q}");
    assert_eq!(comms.iter().map(Vec::len).sum::<usize>(), 34);
    let (_, q) = community::detect(&g, Method::GreedyModularity, None, 1.0, 0).unwrap();
    // CNM on the karate club reaches Q ≈ 0.3807 (Clauset et al.; nx gives 0.3806706).
    approx(q, 0.3806706114398422, 1e-9);
    let (_, q) = community::detect(&g, Method::LabelPropagation, None, 1.0, 5).unwrap();
    assert!(q > 0.1, "label propagation modularity {q}");
}

#[test]
fn shortest_paths_weighted_and_negative() {
    let g = graph(true, &[(0, 1, 4.0), (0, 2, 1.0), (2, 1, 1.0), (1, 3, 1.0)]);
    let r = paths::shortest_path(&g, &0.into(), &3.into(), Some("weight")).unwrap();
    assert_eq!(r.length, 3.0);
    assert_eq!(r.path, vec![0.into(), 2.into(), 1.into(), 3.into()]);
    let r = paths::shortest_path(&g, &0.into(), &3.into(), None).unwrap();
    assert_eq!((r.length, r.path.len()), (2.0, 3));
    let n = graph(true, &[(0, 1, 4.0), (0, 2, 1.0), (2, 1, -2.0), (1, 3, 1.0)]);
    let r = paths::shortest_path(&n, &0.into(), &3.into(), Some("weight")).unwrap();
    assert_eq!(r.length, 0.0);
    let cyc = graph(true, &[(0, 1, 1.0), (1, 2, -3.0), (2, 1, 1.0), (2, 3, 1.0)]);
    let err = paths::shortest_path(&cyc, &0.into(), &3.into(), Some("weight")).unwrap_err();
    assert!(err.to_string().contains("negative cycle"), "{err}");
    let err = paths::shortest_path(&g, &17.into(), &3.into(), None).unwrap_err();
    assert_eq!(err.to_string(), "source: node 17 not in graph");
    let err = paths::shortest_path(&g, &3.into(), &0.into(), None).unwrap_err();
    assert!(matches!(err, GraphError::FailedPrecondition(_)), "{err}");
}

#[test]
fn spanning_tree_flow_and_order() {
    let g = graph(
        false,
        &[
            (0, 1, 1.0),
            (1, 2, 2.0),
            (0, 2, 3.0),
            (2, 3, 1.0),
            (3, 0, 5.0),
        ],
    );
    let (edges, total) =
        structure::minimum_spanning_tree(&g, "weight", MstAlgorithm::Kruskal).unwrap();
    assert_eq!((edges.len(), total), (3, 4.0));
    assert_eq!(
        structure::minimum_spanning_tree(&g, "weight", MstAlgorithm::Prim)
            .unwrap()
            .1,
        4.0
    );
    // CLRS figure 26.1: maximum flow 23.
    let mut f = Graph::new("f", true).unwrap();
    for (u, v, c) in [
        (0, 1, 16),
        (0, 2, 13),
        (1, 3, 12),
        (2, 1, 4),
        (2, 4, 14),
        (3, 2, 9),
        (3, 5, 20),
        (4, 3, 7),
        (4, 5, 4),
    ] {
        let mut a = Attrs::new();
        a.insert("capacity".into(), c.into());
        f.add_edge(NodeId::Int(u), NodeId::Int(v), a);
    }
    let (value, flows) = structure::maximum_flow(&f, &0.into(), &5.into(), "capacity").unwrap();
    assert_eq!(value, 23.0);
    let out_of_source: f64 = flows
        .iter()
        .filter(|e| e.source == NodeId::Int(0))
        .map(|e| e.weight)
        .sum();
    assert_eq!(out_of_source, 23.0);
    let err = structure::maximum_flow(&f, &0.into(), &0.into(), "capacity").unwrap_err();
    assert_eq!(err.to_string(), "sink: source and sink must differ");
    // The CLRS network has the cycle 1 → 3 → 2 → 1.
    assert!(structure::topological_sort(&f).is_err());
    let dag = graph(true, &[(2, 1, 1.0), (1, 0, 1.0), (2, 0, 1.0)]);
    assert_eq!(
        structure::topological_sort(&dag).unwrap(),
        vec![2.into(), 1.into(), 0.into()]
    );
}

#[test]
fn cycles_cores_colouring_matching() {
    let tri = graph(true, &[(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (2, 3, 1.0)]);
    let (has, dag, cycles, truncated) = structure::cycles(&tri, 10).unwrap();
    assert!(has && dag == Some(false) && !truncated);
    assert_eq!(cycles.len(), 1);
    assert!(
        structure::topological_sort(&tri)
            .unwrap_err()
            .to_string()
            .contains("not a DAG")
    );
    let ring = generators::cycle("c", 5).unwrap();
    let (has, dag, basis, _) = structure::cycles(&ring, 10).unwrap();
    assert!(has && dag.is_none() && basis.len() == 1 && basis[0].len() == 5);
    // K4 plus a pendant node.
    let mut k = generators::complete("k", 4).unwrap();
    k.add_edge(3.into(), 4.into(), Attrs::new());
    assert_eq!(structure::core_number(&k).unwrap(), vec![3, 3, 3, 3, 1]);
    for s in [
        ColorStrategy::LargestFirst,
        ColorStrategy::Dsatur,
        ColorStrategy::IndependentSet,
    ] {
        let colors = structure::coloring(&k, s).unwrap();
        for (u, v, _) in k.edges() {
            assert_ne!(
                colors[k.node_index(u).unwrap()],
                colors[k.node_index(v).unwrap()],
                "{s:?}"
            );
        }
        assert_eq!(
            *colors.iter().max().unwrap(),
            3,
            "{s:?}: K4 needs 4 colours"
        );
    }
    // Path 0-1-2-3 weights 1, 5, 1: max weight {1-2}; max cardinality {0-1, 2-3}.
    let p = graph(false, &[(0, 1, 1.0), (1, 2, 5.0), (2, 3, 1.0)]);
    let (m, w) = structure::matching(&p, Some("weight"), false, &Limits::default()).unwrap();
    assert_eq!((m.len(), w), (1, 5.0));
    let (m, w) = structure::matching(&p, Some("weight"), true, &Limits::default()).unwrap();
    assert_eq!((m.len(), w), (2, 2.0));
}

#[test]
fn density_efficiency_components() {
    let d = graph(true, &[(0, 1, 1.0), (1, 2, 1.0)]);
    assert_eq!(structure::density(&d), 2.0 / 6.0);
    let u = graph(false, &[(0, 1, 1.0), (1, 2, 1.0)]);
    assert_eq!(structure::density(&u), 2.0 / 3.0);
    // P3: ordered pairs at 1, 1, 2 hops each way: (2 + 2 + 1) / 6.
    let (ge, le) = structure::efficiency(&u, None, &Limits::default()).unwrap();
    approx(ge, 5.0 / 6.0, 1e-15);
    assert_eq!(le, 0.0);
    let (ge, le) = structure::efficiency(
        &generators::complete("k", 5).unwrap(),
        None,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((ge, le), (1.0, 1.0));
    let two = graph(true, &[(0, 1, 1.0), (1, 0, 1.0), (2, 3, 1.0)]);
    assert_eq!(
        structure::connected_components(&two, false).unwrap().len(),
        2
    );
    let strong = structure::connected_components(&two, true).unwrap();
    assert_eq!(
        strong.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 1, 1]
    );
    let s = structure::statistics(&two, &Limits::default()).unwrap();
    assert!(!s.is_connected && s.diameter.is_none());
}

#[test]
fn louvain_splits_two_cliques() {
    let mut g = generators::complete("a", 5).unwrap();
    for u in 5..10i64 {
        for v in u + 1..10 {
            g.add_edge(u.into(), v.into(), Attrs::new());
        }
    }
    g.add_edge(4.into(), 5.into(), Attrs::new());
    for method in [
        Method::Louvain,
        Method::GreedyModularity,
        Method::LabelPropagation,
    ] {
        let (comms, q) = community::detect(&g, method, None, 1.0, 1).unwrap();
        assert_eq!(comms.len(), 2, "{method:?}");
        // Q = 2 · (10/21 − (21/42)²) for two 5-cliques joined by one edge.
        approx(q, 2.0 * (10.0 / 21.0 - 0.25), 1e-12);
    }
}

#[test]
fn generators_have_their_sizes() {
    let l = Limits::default();
    assert_eq!(
        generators::grid_2d("g", 3, 4, &l).unwrap().num_edges(),
        3 * 3 + 2 * 4
    );
    let ba = generators::barabasi_albert("b", 100, 3, 7, &l).unwrap();
    assert_eq!(ba.num_edges(), 3 + 3 * 96);
    assert_eq!(
        ba,
        generators::barabasi_albert("b", 100, 3, 7, &l).unwrap(),
        "seeded"
    );
    let ws = generators::watts_strogatz("w", 30, 4, 0.3, 1, &l).unwrap();
    assert_eq!(ws.num_edges(), 60);
    let er = generators::erdos_renyi("e", 200, 0.1, false, 2, &l).unwrap();
    let m = er.num_edges() as f64;
    assert!((m - 1990.0).abs() < 5.0 * 1990f64.sqrt(), "{m}");
    let err = generators::complete("c", 0).map(|g| g.num_nodes());
    assert_eq!(err.unwrap(), 0);
    let tight = Limits {
        max_edges: 10,
        ..Limits::default()
    };
    let six = generators::Params {
        n: Some(6),
        ..generators::Params::new(generators::Kind::Complete)
    };
    let err = generators::generate("c", &six, &tight).unwrap_err();
    assert_eq!(err.to_string(), "edges = 15 exceeds max_edges = 10");
}

/// Components come largest first, equal sizes in the order of their first node (in
/// node order, not id order), each listed in node order: for the search over the rows
/// (undirected), the union–find (weak, directed) and Tarjan (strong).
#[test]
fn components_are_ordered_by_size_then_first_node() {
    let ids = |c: Vec<Vec<NodeId>>| -> Vec<Vec<i64>> {
        c.into_iter()
            .map(|c| {
                c.into_iter()
                    .map(|id| match id {
                        NodeId::Int(i) => i,
                        NodeId::Str(s) => panic!("{s}"),
                    })
                    .collect()
            })
            .collect()
    };
    // Nodes in the order 10, 11, 30, 4, 5, 20, 21, 2: ids deliberately not sorted.
    let edges = [(10, 11), (30, 4), (4, 5), (20, 21), (2, 2)];
    let want = vec![vec![30, 4, 5], vec![10, 11], vec![20, 21], vec![2]];
    let und: Vec<_> = edges.iter().map(|&(u, v)| (u, v, 1.0)).collect();
    assert_eq!(
        ids(structure::connected_components(&graph(false, &und), false).unwrap()),
        want
    );
    // The largest component found last: its search stops once every node has a label
    // (after node 7 is found from 6), and nothing is lost.
    let last: Vec<_> = [(1, 2), (3, 4), (4, 5), (5, 6), (4, 6), (6, 7)]
        .iter()
        .map(|&(u, v)| (u, v, 1.0))
        .collect();
    assert_eq!(
        ids(structure::connected_components(&graph(false, &last), false).unwrap()),
        vec![vec![3, 4, 5, 6, 7], vec![1, 2]]
    );
    // Directed, arcs against the node order: the weak components are the same.
    let dir: Vec<_> = edges.iter().map(|&(u, v)| (v, u, 1.0)).collect();
    // Its node order is 11, 10, 4, 30, 5, 21, 20, 2.
    let weak = graph(true, &dir);
    assert_eq!(
        ids(structure::connected_components(&weak, false).unwrap()),
        vec![vec![4, 30, 5], vec![11, 10], vec![21, 20], vec![2]]
    );
    // Strong: every node alone but the self-loop's, ties in node order.
    assert_eq!(
        ids(structure::connected_components(&weak, true).unwrap()),
        vec![
            vec![11],
            vec![10],
            vec![4],
            vec![30],
            vec![5],
            vec![21],
            vec![20],
            vec![2]
        ]
    );
}

#[test]
fn prim_spans_every_component_and_directed_cores_count_reciprocal_edges() {
    let g = graph(
        false,
        &[
            (0, 1, 1.0),
            (1, 2, 2.0),
            (0, 2, 3.0),
            (5, 6, 7.0),
            (6, 7, 1.0),
        ],
    );
    for algorithm in [MstAlgorithm::Kruskal, MstAlgorithm::Prim] {
        let (edges, total) = structure::minimum_spanning_tree(&g, "weight", algorithm).unwrap();
        assert_eq!((edges.len(), total), (4, 11.0), "{algorithm:?}");
    }
    // 0 ↔ 1 reciprocal plus 1 → 2: degrees (in + out) 2, 3, 1. Peeling 2 leaves 0 and 1
    // with two arcs between them: core 2 (NetworkX counts both arcs).
    let d = graph(true, &[(0, 1, 1.0), (1, 0, 1.0), (1, 2, 1.0)]);
    assert_eq!(structure::core_number(&d).unwrap(), vec![2, 2, 1]);
}

proptest::proptest! {
    /// The iterative Tarjan search gives petgraph's (recursive) strong components, and
    /// `cycles_detection`'s `has_cycle` is a self-loop or a component of two nodes or
    /// more: random directed graphs with repeated arcs and self-loops.
    #[test]
    fn strong_components_are_petgraphs(
        n in 1usize..40,
        arcs in proptest::collection::vec((0usize..40, 0usize..40), 0..120),
    ) {
        let arcs: Vec<(usize, usize)> = arcs.into_iter().map(|(u, v)| (u % n, v % n)).collect();
        let mut g = Graph::new("t", true).unwrap();
        for i in 0..n {
            g.add_node((i as i64).into(), Attrs::new());
        }
        let mut pg = petgraph::Graph::<(), ()>::new();
        let nodes: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
        for &(u, v) in &arcs {
            g.add_edge((u as i64).into(), (v as i64).into(), Attrs::new());
            pg.update_edge(nodes[u], nodes[v], ());
        }
        let mut want: Vec<Vec<i64>> = petgraph::algo::tarjan_scc(&pg)
            .into_iter()
            .map(|c| {
                let mut c: Vec<i64> = c.into_iter().map(|i| i.index() as i64).collect();
                c.sort_unstable();
                c
            })
            .collect();
        want.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a[0].cmp(&b[0])));
        let got: Vec<Vec<i64>> = structure::connected_components(&g, true)
            .unwrap()
            .into_iter()
            .map(|c| c.into_iter().map(|id| match id {
                NodeId::Int(i) => i,
                NodeId::Str(s) => panic!("{s}"),
            }).collect())
            .collect();
        proptest::prop_assert_eq!(got, want);
        let (has_cycle, is_dag, ..) = structure::cycles(&g, 1).unwrap();
        proptest::prop_assert_eq!(has_cycle, petgraph::algo::is_cyclic_directed(&pg));
        proptest::prop_assert_eq!(is_dag, Some(!has_cycle));
    }
}

/// A cycle as a list starting at its smallest node (the order it is walked in kept).
fn rotated(mut c: Vec<i64>) -> Vec<i64> {
    let k = (0..c.len()).min_by_key(|&i| c[i]).unwrap_or(0);
    c.rotate_left(k);
    c
}

proptest::proptest! {
    /// The iterative Johnson search lists the simple cycles rustworkx-core's does (as
    /// sets: the order differs), and `max_cycles` cuts the list with `truncated` set
    /// exactly when a cycle is left out: random directed graphs with self-loops.
    #[test]
    fn simple_cycles_are_rustworkxs(
        n in 1usize..9,
        arcs in proptest::collection::vec((0usize..9, 0usize..9), 0..24),
        cut in 0usize..8,
    ) {
        let mut g = Graph::new("t", true).unwrap();
        for i in 0..n {
            g.add_node((i as i64).into(), Attrs::new());
        }
        let mut pg = petgraph::Graph::<(), ()>::new();
        let nodes: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
        // rustworkx-core lists self-loops only when told of them apart (its `None`
        // left them out, with `has_cycle` true): each is the cycle `[v]`, as in NetworkX.
        let mut want: Vec<Vec<i64>> = Vec::new();
        for (u, v) in arcs {
            let (u, v) = (u % n, v % n);
            g.add_edge((u as i64).into(), (v as i64).into(), Attrs::new());
            if u != v {
                pg.update_edge(nodes[u], nodes[v], ());
            } else if !want.contains(&vec![u as i64]) {
                want.push(vec![u as i64]);
            }
        }
        let int = |id: NodeId| match id {
            NodeId::Int(i) => i,
            NodeId::Str(s) => panic!("{s}"),
        };
        let mut it = rustworkx_core::connectivity::johnson_simple_cycles(&pg, None);
        while let Some(c) = it.next(&pg) {
            want.push(rotated(c.into_iter().map(|i| i.index() as i64).collect()));
        }
        want.sort();
        let (has, dag, cycles, truncated) = structure::cycles(&g, 10_000).unwrap();
        let mut got: Vec<Vec<i64>> = cycles
            .into_iter()
            .map(|c| c.into_iter().map(int).collect::<Vec<_>>())
            .collect();
        // Each listed from its smallest node already.
        proptest::prop_assert!(got.iter().all(|c| rotated(c.clone()) == *c));
        got.sort();
        proptest::prop_assert_eq!(&got, &want);
        proptest::prop_assert_eq!(has, !want.is_empty());
        proptest::prop_assert_eq!(dag, Some(want.is_empty()));
        proptest::prop_assert!(!truncated);
        let (_, _, some, truncated) = structure::cycles(&g, cut).unwrap();
        proptest::prop_assert_eq!(some.len(), cut.min(want.len()));
        proptest::prop_assert_eq!(truncated, want.len() > cut);
    }
}
