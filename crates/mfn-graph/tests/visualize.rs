//! `visualize_graph`: PNG and SVG output, colouring, background, limits.

use mfn_graph::layout::{self, Layout};
use mfn_graph::render::{Background, ImageFormat, VisualizeArgs, visualize};
use mfn_graph::tools::NoControl;
use mfn_graph::{Attrs, Graph, Limits, generators};
use quick_xml::events::Event;
use serde_json::json;

fn args(v: serde_json::Value) -> VisualizeArgs {
    serde_json::from_value(v).unwrap()
}

fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), x: f64, y: f64) -> [u8; 4] {
    let (x, y) = (x.floor() as usize, y.floor() as usize);
    let i = (y * img.0 as usize + x) * 4;
    [img.2[i], img.2[i + 1], img.2[i + 2], img.2[i + 3]]
}

/// Element names and their count in an SVG document (it must parse as XML).
fn svg_elements(svg: &str) -> std::collections::HashMap<String, usize> {
    let mut r = quick_xml::Reader::from_str(svg);
    let mut counts = std::collections::HashMap::new();
    let mut depth = 0i32;
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) => {
                depth += 1;
                *counts
                    .entry(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap())
                    .or_insert(0) += 1;
            }
            Event::Empty(e) => {
                *counts
                    .entry(String::from_utf8(e.local_name().as_ref().to_vec()).unwrap())
                    .or_insert(0) += 1;
            }
            Event::End(_) => depth -= 1,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(depth, 0, "balanced");
    counts
}

#[test]
fn defaults_and_strict_arguments() {
    let a = args(json!({"graph": "g"}));
    assert_eq!((a.width, a.height, a.seed), (800, 800, 42));
    assert_eq!(a.layout, Layout::Auto);
    assert_eq!(a.format, ImageFormat::Png);
    assert!(a.color_by.is_none() && !a.labels && a.legend);
    let err =
        serde_json::from_value::<VisualizeArgs>(json!({"graph": "g", "colour": "x"})).unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
    let a = args(json!({"graph": "g", "layout": "kamada_kawai", "format": "svg"}));
    assert_eq!(
        (a.layout, a.format),
        (Layout::KamadaKawai, ImageFormat::Svg)
    );
}

#[test]
fn png_has_the_requested_size_and_nodes_where_the_layout_puts_them() {
    let g = generators::cycle("c", 6).unwrap();
    let a = args(
        json!({"graph": "c", "layout": "circular", "width": 300, "height": 200, "node_size": 6}),
    );
    let (v, png) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
    assert_eq!((v.width, v.height, v.layout), (300, 200, Layout::Circular));
    assert_eq!((v.num_nodes, v.num_edges), (6, 6));
    assert!(v.svg.is_none() && !v.background);
    let img = decode(&png.unwrap());
    assert_eq!((img.0, img.1), (300, 200));
    // The canvas mapping of the module doc: margin = radius + 8, one scale.
    let margin = 6.0 + 8.0;
    let s = 200.0 - 2.0 * margin;
    let (ox, oy) = ((300.0 - s) / 2.0, (200.0 - s) / 2.0);
    let pos = layout::layout(&g, Layout::Circular, 42, &Limits::default()).unwrap();
    for &(x, y) in &pos {
        let p = pixel(&img, ox + x * s, oy + y * s);
        assert_eq!(p, [0x1f, 0x78, 0xb4, 255], "node colour at its centre");
    }
    // The centre of the circle and the corners stay white.
    assert_eq!(pixel(&img, 150.0, 100.0), [255, 255, 255, 255]);
    assert_eq!(pixel(&img, 1.0, 1.0), [255, 255, 255, 255]);
    assert_eq!(pixel(&img, 298.0, 198.0), [255, 255, 255, 255]);
}

fn pixel_graph() -> Graph {
    let mut g = Graph::new("net", false).unwrap();
    for (i, (x, y, kind)) in [
        (10.0, 5.0, "tip"),
        (40.0, 20.0, "junction"),
        (90.0, 45.0, "tip"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut a = Attrs::new();
        a.insert("x".into(), x.into());
        a.insert("y".into(), y.into());
        a.insert("kind".into(), kind.into());
        g.add_node((i as i64).into(), a);
    }
    g.add_edge(0.into(), 1.into(), Default::default());
    g.add_edge(1.into(), 2.into(), Default::default());
    g
}

#[test]
fn coordinates_over_a_background_sit_at_their_pixels() {
    let g = pixel_graph();
    // A 100×50 dark background, drawn on a 200×100 canvas (scale 2).
    let bg = Background {
        width: 100,
        height: 50,
        rgba: [10u8, 20, 30, 255].repeat(100 * 50),
    };
    let a = args(
        json!({"graph": "net", "width": 200, "height": 100, "node_size": 3, "color_by": "kind"}),
    );
    let (v, png) = visualize(&g, &a, Some(&bg), &Limits::default(), &NoControl).unwrap();
    assert_eq!(v.layout, Layout::Coordinates);
    assert!(v.background);
    assert_eq!(v.legend.len(), 2, "{:?}", v.legend);
    assert_eq!(v.legend[0].label, "tip");
    let img = decode(&png.unwrap());
    let tip = [0x1f, 0x77, 0xb4, 255];
    let junction = [0xff, 0x7f, 0x0e, 255];
    assert_eq!(pixel(&img, 21.0, 11.0), tip);
    assert_eq!(pixel(&img, 81.0, 41.0), junction);
    assert_eq!(pixel(&img, 181.0, 91.0), tip);
    // Away from the network: the background.
    assert_eq!(pixel(&img, 150.0, 10.0), [10, 20, 30, 255]);
    // A wrong-sized background is named.
    let bad = Background {
        width: 10,
        height: 10,
        rgba: vec![0; 7],
    };
    let err = visualize(&g, &a, Some(&bad), &Limits::default(), &NoControl).unwrap_err();
    assert!(err.to_string().starts_with("background:"), "{err}");
    // SVG embeds the background as a PNG data URI.
    let a = args(json!({"graph": "net", "format": "svg", "width": 200, "height": 100}));
    let (v, _) = visualize(&g, &a, Some(&bg), &Limits::default(), &NoControl).unwrap();
    let svg = v.svg.unwrap();
    assert!(
        svg.contains("href=\"data:image/png;base64,iVBORw0KGgo"),
        "PNG magic in base64"
    );
    assert!(svg.contains("cx=\"21.00\" cy=\"11.00\""), "{svg}");
}

#[test]
fn svg_is_xml_with_one_circle_per_node_and_one_line_per_edge() {
    let g = generators::karate_club("k").unwrap();
    for (labels, color_by) in [
        (false, None),
        (true, Some("community")),
        (true, Some("degree")),
    ] {
        let a = args(
            json!({"graph": "k", "format": "svg", "labels": labels, "color_by": color_by, "layout": "spring"}),
        );
        let (v, png) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
        assert!(png.is_none());
        let counts = svg_elements(v.svg.as_deref().unwrap());
        assert_eq!(counts["svg"], 1);
        assert_eq!(counts["circle"], 34);
        assert_eq!(counts["line"], 78);
        let texts = counts.get("text").copied().unwrap_or(0);
        assert_eq!(texts, if labels { 34 } else { 0 } + v.legend.len());
    }
}

#[test]
fn colouring_by_community_degree_and_attribute() {
    let mut g = Graph::new("cc", false).unwrap();
    for base in [0i64, 10] {
        for i in 0..5 {
            for j in i + 1..5 {
                g.add_edge((base + i).into(), (base + j).into(), Default::default());
            }
        }
    }
    g.add_edge(0.into(), 10.into(), Default::default());
    let a = args(json!({"graph": "cc", "format": "svg", "color_by": "community"}));
    let (v, _) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
    assert_eq!(v.legend.len(), 2, "{:?}", v.legend);
    assert_eq!(v.legend[0].label, "community 0 (5 nodes)");
    assert_ne!(v.legend[0].color, v.legend[1].color);
    assert_eq!(v.color_by.as_deref(), Some("community"));
    let svg = v.svg.unwrap();
    assert_eq!(
        svg.matches(&format!("fill=\"{}\"", v.legend[0].color))
            .count(),
        5 + 1
    );

    let a = args(json!({"graph": "cc", "format": "svg", "color_by": "degree"}));
    let (v, _) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
    let labels: Vec<&str> = v.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels, ["4", "4.25", "4.5", "4.75", "5"]);
    assert_eq!(v.legend[0].color, "#440154");
    assert_eq!(v.legend[4].color, "#fde725");

    let err = visualize(
        &g,
        &args(json!({"graph": "cc", "color_by": "nope"})),
        None,
        &Limits::default(),
        &NoControl,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("color_by:"), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn limits_and_bad_sizes_are_named() {
    let g = generators::path("p", 30).unwrap();
    let l = Limits {
        max_layout_nodes: 20,
        ..Limits::default()
    };
    let err = visualize(&g, &args(json!({"graph": "p"})), None, &l, &NoControl).unwrap_err();
    assert_eq!(err.to_string(), "nodes = 30 exceeds max_layout_nodes = 20");
    for (field, v) in [
        ("width", json!({"graph": "p", "width": 5000})),
        ("height", json!({"graph": "p", "height": 2})),
    ] {
        let err = visualize(&g, &args(v), None, &Limits::default(), &NoControl).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{field}:")), "{err}");
    }
    let err = visualize(
        &g,
        &args(json!({"graph": "p", "edge_width_by": "label"})),
        None,
        &Limits::default(),
        &NoControl,
    );
    // Missing weights count as 1: fine.
    assert!(err.is_ok());
    let mut h = g.clone();
    h.edge_attrs_mut(&0.into(), &1.into())
        .unwrap()
        .insert("label".into(), "x".into());
    let err = visualize(
        &h,
        &args(json!({"graph": "p", "edge_width_by": "label"})),
        None,
        &Limits::default(),
        &NoControl,
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("edge_width_by:"), "{err}");
}

#[test]
fn output_is_deterministic_and_cancellable() {
    let g = generators::karate_club("k").unwrap();
    let a = args(json!({"graph": "k", "layout": "kamada_kawai", "color_by": "community"}));
    let (_, p1) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
    let (_, p2) = visualize(&g, &a, None, &Limits::default(), &NoControl).unwrap();
    assert_eq!(p1, p2);
    struct Cancelled;
    impl mfn_graph::tools::Control for Cancelled {
        fn cancelled(&self) -> bool {
            true
        }
    }
    let err = visualize(&g, &a, None, &Limits::default(), &Cancelled).unwrap_err();
    assert_eq!(err, mfn_graph::GraphError::Cancelled);
}

#[test]
fn schemas_and_result_json_for_the_service() {
    let input = serde_json::to_value(schemars::schema_for!(VisualizeArgs)).unwrap();
    assert_eq!(input["required"], json!(["graph"]));
    assert_eq!(input["additionalProperties"], json!(false));
    let text = input.to_string();
    assert!(
        text.contains("kamada_kawai") && text.contains("svg"),
        "{text}"
    );
    let output =
        serde_json::to_value(schemars::schema_for!(mfn_graph::render::Visualization)).unwrap();
    assert!(output["properties"]["legend"].is_object());
    let g = generators::path("p", 3).unwrap();
    let (v, png) = visualize(
        &g,
        &args(json!({"graph": "p", "color_by": "degree"})),
        None,
        &Limits::default(),
        &NoControl,
    )
    .unwrap();
    assert!(png.is_some_and(|b| b.starts_with(b"\x89PNG")));
    let out = serde_json::to_value(&v).unwrap();
    assert_eq!(out["format"], "png");
    assert_eq!(out["layout"], "spring");
    assert_eq!(out["color_by"], "degree");
    assert!(out.get("svg").is_none(), "no svg key for png");
    assert_eq!(out["legend"][0], json!({"label": "1", "color": "#440154"}));
}
