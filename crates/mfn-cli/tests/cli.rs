//! End-to-end tests of the `mfn` binary: the JSON contract of every verb, determinism,
//! the golden 8×8 run, files written and read, and one-line errors with exit code 2.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use mfn_cli::input::{self, NpyArray, NpyData};
use serde_json::Value;

const FEATURE_NAMES: [&str; 18] = [
    "D_box",
    "D_r2",
    "V_min",
    "V_max",
    "V_mean",
    "V_std",
    "V_skew",
    "V_kurt",
    "dV_mean",
    "dV_max",
    "T_stable",
    "E_trend",
    "f_active",
    "N_clusters_low",
    "N_clusters_med",
    "N_clusters_high",
    "max_cluster_size",
    "cluster_size_std",
];

const SIMULATE_KEYS: [&str; 13] = [
    "growth_events",
    "turing_activations",
    "clamping_events",
    "pot_min_mV",
    "pot_max_mV",
    "pot_mean_mV",
    "pot_std_mV",
    "fractal_dimension",
    "field_sha256",
    // Added with the bit-exact Turing branch (issue 16 §0); the digests only with Turing.
    "activator_mean",
    "inhibitor_mean",
    "activator_sha256",
    "inhibitor_sha256",
];

const VALIDATE_KEYS: [&str; 12] = [
    "loss_start",
    "loss_final",
    "loss_drop",
    "pot_min_mV",
    "pot_max_mV",
    "example_fractal_dim",
    "growth_events",
    "lyapunov_exponent",
    "lyapunov_mean",
    "nernst_numeric_mV",
    "nernst_symbolic_mV",
    "nernst_rtfz_mV",
];

fn mfn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfn"))
        .args(args)
        .output()
        .expect("run mfn")
}

/// Run with `--format json`, require success, parse stdout.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = mfn(&all);
    assert!(
        out.status.success(),
        "mfn {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .expect("a JSON object")
        .keys()
        .cloned()
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Require exit code 2 and exactly one stderr line `error: ...` mentioning `needle`.
fn assert_bad_input(args: &[&str], needle: &str) {
    let out = mfn(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "mfn {args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "mfn {args:?} printed a report");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "mfn {args:?}: not one line: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(needle),
        "mfn {args:?}: {stderr} lacks {needle}"
    );
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn write_npy(path: &Path, rows: usize, cols: usize, data: NpyData) {
    std::fs::write(path, input::encode_npy(&NpyArray { rows, cols, data })).unwrap();
}

#[test]
fn simulate_reports_exactly_the_contract_keys() {
    let v = json(&["simulate", "--grid-size", "16", "--steps", "10"]);
    assert_eq!(keys(&v), set(&SIMULATE_KEYS));
    assert_eq!(v["field_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn simulate_is_deterministic_and_seed_sensitive() {
    let a = json(&[
        "simulate",
        "--seed",
        "7",
        "--grid-size",
        "16",
        "--steps",
        "20",
    ]);
    let b = json(&[
        "simulate",
        "--seed",
        "7",
        "--grid-size",
        "16",
        "--steps",
        "20",
    ]);
    let c = json(&[
        "simulate",
        "--seed",
        "8",
        "--grid-size",
        "16",
        "--steps",
        "20",
    ]);
    assert_eq!(a, b);
    assert_ne!(a["field_sha256"], c["field_sha256"]);
}

#[test]
fn simulate_golden_8x8_field_round_trips_through_npy() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("field.npy");
    let v = json(&[
        "simulate",
        "--seed",
        "42",
        "--grid-size",
        "8",
        "--steps",
        "3",
        "--field-out",
        path_str(&npy),
    ]);
    assert_eq!(v["growth_events"], 2);
    assert_eq!(
        v["pot_min_mV"].as_f64().unwrap(),
        -0.07222537700526518 * 1e3
    );

    let array = input::parse_npy(&std::fs::read(&npy).unwrap()).unwrap();
    assert_eq!((array.rows, array.cols), (8, 8));
    let NpyData::F64(field) = array.data else {
        panic!("field-out must be <f8")
    };
    assert_eq!(mfn_core::stats::sum(&field), -4.416234402044351);
    assert_eq!(
        field[..3],
        [
            -0.07031207471055746,
            -0.06955340557743396,
            -0.06921025934994618
        ]
    );
    // The hash is over the same little-endian bytes.
    let bytes: Vec<u8> = field.iter().flat_map(|x| x.to_le_bytes()).collect();
    use sha2::Digest;
    assert_eq!(v["field_sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
}

#[test]
fn simulate_repeat_adds_timing_only() {
    let args = ["simulate", "--grid-size", "16", "--steps", "10"];
    let once = json(&args);
    let mut repeated = json(&[&args[..], &["--repeat", "3"]].concat());
    let timing = repeated
        .as_object_mut()
        .unwrap()
        .remove("timing")
        .expect("timing with --repeat");
    assert_eq!(repeated, once);
    assert_eq!(keys(&timing), set(&["runs", "min_ms", "median_ms"]));
    assert_eq!(timing["runs"], 3);
    let (min, median) = (
        timing["min_ms"].as_f64().unwrap(),
        timing["median_ms"].as_f64().unwrap(),
    );
    assert!(min > 0.0 && min <= median, "{timing}");
}

#[test]
fn simulate_png_is_a_valid_heatmap() {
    let dir = tempfile::tempdir().unwrap();
    let png_path = dir.path().join("field.png");
    json(&[
        "simulate",
        "--grid-size",
        "16",
        "--steps",
        "5",
        "--png",
        path_str(&png_path),
    ]);
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    // 16 cells upscaled ×32 = 512 px, plus margins, plus the colour bar and labels.
    assert_eq!(frame.height, 512 + 32);
    assert!(frame.width > 512 + 32 + 24, "width {}", frame.width);
    assert_eq!(frame.color_type, png::ColorType::Rgb);
}

#[test]
fn features_reports_the_18_canonical_names() {
    let base = ["features", "--grid-size", "16", "--steps", "12"];
    for extra in [
        &[][..],
        &["--with-history"][..],
        &["--with-history", "--adaptive-threshold"][..],
        &["--threshold-mv", "-70"][..],
    ] {
        let v = json(&[&base[..], extra].concat());
        assert_eq!(keys(&v), set(&["features"]), "{extra:?}");
        assert_eq!(keys(&v["features"]), set(&FEATURE_NAMES), "{extra:?}");
    }
}

#[test]
fn features_threshold_flags_conflict() {
    let out = mfn(&["features", "--threshold-mv", "-50", "--adaptive-threshold"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn fractal_of_a_filled_square_npy_is_two() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("square.npy");
    write_npy(&path, 64, 64, NpyData::Bool(vec![true; 64 * 64]));
    let v = json(&["fractal", "--input", path_str(&path)]);
    assert_eq!(
        keys(&v),
        set(&["fractal_dimension", "r_squared", "box_sizes", "counts"])
    );
    assert!(
        (v["fractal_dimension"].as_f64().unwrap() - 2.0).abs() < 0.02,
        "{v}"
    );
    assert_eq!(v["box_sizes"], serde_json::json!([2, 4, 7, 16, 32]));
}

#[test]
fn fractal_of_a_field_npy_uses_the_volt_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.npy");
    // Left half at −50 mV (active), right half at −70 mV.
    let field: Vec<f64> = (0..32 * 32)
        .map(|i| if i % 32 < 16 { -0.050 } else { -0.070 })
        .collect();
    write_npy(&path, 32, 32, NpyData::F64(field));
    let v = json(&["fractal", "--input", path_str(&path)]);
    assert!(
        (v["fractal_dimension"].as_f64().unwrap() - 2.0).abs() < 0.05,
        "{v}"
    );
    // Raising the threshold above every value leaves nothing to count.
    let v = json(&[
        "fractal",
        "--input",
        path_str(&path),
        "--threshold",
        "-0.01",
    ]);
    assert_eq!(v["fractal_dimension"], 0.0);
}

#[test]
fn fractal_of_a_csv_line_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("line.csv");
    let mut text = String::new();
    for r in 0..64 {
        let row: Vec<&str> = (0..64).map(|_| if r == 10 { "1" } else { "0" }).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    let v = json(&["fractal", "--input", path_str(&path), "--num-scales", "5"]);
    assert!(
        (v["fractal_dimension"].as_f64().unwrap() - 1.0).abs() < 0.02,
        "{v}"
    );
}

#[test]
fn fractal_of_a_png_thresholds_grey_levels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diag.png");
    // A white diagonal line on black, 64×64 grey.
    let mut grey = vec![0u8; 64 * 64];
    for i in 0..64 {
        grey[i * 64 + i] = 255;
    }
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), 64, 64);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&grey).unwrap();
    w.finish().unwrap();

    let v = json(&["fractal", "--input", path_str(&path)]);
    let d = v["fractal_dimension"].as_f64().unwrap();
    assert!((d - 1.0).abs() < 0.1, "{v}");
    // Above every grey level: empty.
    let v = json(&["fractal", "--input", path_str(&path), "--threshold", "255"]);
    assert_eq!(v["fractal_dimension"], 0.0);
}

#[test]
fn nernst_potassium_golden() {
    let v = json(&["nernst", "--z", "1", "--c-out", "0.005", "--c-in", "0.140"]);
    assert_eq!(keys(&v), set(&["potential_mV"]));
    assert_eq!(v["potential_mV"].as_f64().unwrap(), -89.01066911987907);
    let v = json(&["nernst", "--z", "-1", "--c-out", "0.120", "--c-in", "0.004"]);
    assert!(
        (v["potential_mV"].as_f64().unwrap() + 90.8536).abs() < 1e-4,
        "{v}"
    );
}

#[test]
fn ifs_reports_lyapunov_and_hash_deterministically() {
    let a = json(&["ifs", "--seed", "3", "--points", "500"]);
    assert_eq!(keys(&a), set(&["lyapunov", "points_sha256"]));
    assert_eq!(a, json(&["ifs", "--seed", "3", "--points", "500"]));
    assert_ne!(
        a["points_sha256"],
        json(&["ifs", "--seed", "4", "--points", "500"])["points_sha256"]
    );
    assert!(a["lyapunov"].as_f64().unwrap() < 0.0, "{a}");
}

#[test]
fn aggregate_golden_with_an_outlier() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.json");
    std::fs::write(
        &path,
        r#"{"gradients": [[1,2,3],[1.1,2.1,3.1],[0.9,1.9,2.9],[100,100,100]]}"#,
    )
    .unwrap();
    let v = json(&[
        "aggregate",
        "--input",
        path_str(&path),
        "--num-clusters",
        "2",
    ]);
    assert_eq!(
        keys(&v),
        set(&["aggregated_gradient", "num_input_gradients"])
    );
    assert_eq!(v["num_input_gradients"], 4);
    let agg: Vec<f64> = serde_json::from_value(v["aggregated_gradient"].clone()).unwrap();
    assert_eq!(agg.len(), 3);
    for (got, want) in agg.iter().zip([1.0, 2.0, 3.0]) {
        assert!((got - want).abs() < 1e-9, "{agg:?}");
    }
}

#[test]
fn validate_reports_every_field() {
    let v = json(&["validate", "--grid-size", "8", "--steps", "4"]);
    assert_eq!(keys(&v), set(&VALIDATE_KEYS));
    assert_eq!(v["nernst_numeric_mV"].as_f64().unwrap(), -89.01066911987907);
}

#[test]
fn table_output_is_readable() {
    let out = mfn(&[
        "simulate",
        "--grid-size",
        "8",
        "--steps",
        "3",
        "--repeat",
        "2",
        "--format",
        "table",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in SIMULATE_KEYS
        .iter()
        .chain(&["timing.runs", "timing.median_ms"])
    {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(key)),
            "{key} missing from:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["growth_events", "2"])
    );
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[test]
fn json_is_the_default_when_piped_and_format_is_global() {
    let out = mfn(&["nernst", "--z", "1", "--c-out", "0.005", "--c-in", "0.14"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON when stdout is a pipe");
    assert_eq!(keys(&v), set(&["potential_mV"]));
    // --format also works before the verb.
    let out = mfn(&[
        "--format", "table", "nernst", "--z", "1", "--c-out", "0.005", "--c-in", "0.14",
    ]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("potential_mV  -89.01")
    );
}

#[test]
fn bad_simulation_parameters_exit_2_naming_the_field() {
    assert_bad_input(&["simulate", "--grid-size", "0"], "grid_size");
    assert_bad_input(&["simulate", "--alpha", "0.3"], "alpha");
    assert_bad_input(&["simulate", "--alpha", "NaN"], "alpha");
    assert_bad_input(&["simulate", "--steps", "0"], "steps");
    assert_bad_input(
        &[
            "simulate",
            "--grid-size",
            "8",
            "--steps",
            "2",
            "--repeat",
            "0",
        ],
        "repeat",
    );
    assert_bad_input(&["features", "--grid-size", "0"], "grid_size");
    assert_bad_input(&["validate", "--epochs", "0"], "epochs");
}

#[test]
fn bad_nernst_and_ifs_exit_2_naming_the_field() {
    assert_bad_input(
        &["nernst", "--z", "0", "--c-out", "0.005", "--c-in", "0.14"],
        "z",
    );
    assert_bad_input(
        &[
            "nernst",
            "--z",
            "1",
            "--c-out",
            "0.005",
            "--c-in",
            "0.14",
            "--temperature",
            "0",
        ],
        "temperature",
    );
}

#[test]
fn bad_aggregate_input_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let ragged = dir.path().join("ragged.json");
    std::fs::write(&ragged, r#"{"gradients": [[1,2,3],[1,2]]}"#).unwrap();
    assert_bad_input(&["aggregate", "--input", path_str(&ragged)], "gradients");
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"gradients": []}"#).unwrap();
    assert_bad_input(&["aggregate", "--input", path_str(&empty)], "gradients");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"grads\": [[1]]}").unwrap();
    assert_bad_input(&["aggregate", "--input", path_str(&garbage)], "input");
    let missing = dir.path().join("missing.json");
    assert_bad_input(&["aggregate", "--input", path_str(&missing)], "input");
}

#[test]
fn bad_fractal_input_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.npy");
    assert_bad_input(&["fractal", "--input", path_str(&missing)], "input");

    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, "1,2\n3,NaN\n").unwrap();
    assert_bad_input(&["fractal", "--input", path_str(&nan)], "line 2, column 2");

    let non_square = dir.path().join("rect.csv");
    std::fs::write(&non_square, "1,0,1\n0,1,0\n").unwrap();
    assert_bad_input(&["fractal", "--input", path_str(&non_square)], "square");

    let rect_npy = dir.path().join("rect.npy");
    write_npy(&rect_npy, 4, 8, NpyData::Bool(vec![true; 32]));
    assert_bad_input(&["fractal", "--input", path_str(&rect_npy)], "square");

    let nan_npy = dir.path().join("nan.npy");
    let mut values = vec![0.0; 16];
    values[5] = f64::NAN;
    write_npy(&nan_npy, 4, 4, NpyData::F64(values));
    assert_bad_input(&["fractal", "--input", path_str(&nan_npy)], "non-finite");

    let square = dir.path().join("square.npy");
    write_npy(&square, 16, 16, NpyData::Bool(vec![true; 256]));
    assert_bad_input(
        &["fractal", "--input", path_str(&square), "--num-scales", "0"],
        "num_scales",
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        mfn(&["simulate", "--grid-size", "many"]).status.code(),
        Some(2)
    );
    assert_eq!(mfn(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(mfn(&["simulate", "--format", "xml"]).status.code(), Some(2));
}
