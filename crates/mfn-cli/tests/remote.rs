//! `mfn --remote URL <verb>` gives the same report as the local run, byte for byte,
//! against the in-process test server.

mod common;
use common::mfn;
use mfn_test_util::TestServer;

fn start() -> (TestServer, String) {
    let server = TestServer::builder().start_blocking();
    let url = server.url();
    (server, url)
}

fn stdout_of(args: &[&str]) -> String {
    let out = mfn().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn remote_reports_equal_local_reports() {
    let (_server, url) = start();
    let dir = tempfile::tempdir().unwrap();
    let grads = dir.path().join("g.json");
    std::fs::write(
        &grads,
        r#"{"gradients": [[1,2,3],[1.1,2.1,3.1],[0.9,1.9,2.9],[100,100,100]]}"#,
    )
    .unwrap();
    let g = grads.to_str().unwrap();
    // A 32×32 field in volts: a cross and a diagonal above −60 mV.
    let field = dir.path().join("field.csv");
    let rows: Vec<String> = (0..32)
        .map(|r| {
            (0..32)
                .map(|c| {
                    if r == 16 || c == 8 || r == c {
                        "-0.05"
                    } else {
                        "-0.07"
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    std::fs::write(&field, rows.join("\n")).unwrap();
    let f = field.to_str().unwrap();
    let verbs: Vec<Vec<&str>> = vec![
        vec![
            "simulate",
            "--seed",
            "7",
            "--grid-size",
            "32",
            "--steps",
            "20",
            "--quantum-jitter",
        ],
        vec!["simulate"],
        vec![
            "features",
            "--grid-size",
            "32",
            "--steps",
            "32",
            "--with-history",
        ],
        vec!["features", "--adaptive-threshold"],
        vec!["nernst", "--z", "1", "--c-out", "0.005", "--c-in", "0.140"],
        vec!["aggregate", "--input", g, "--num-clusters", "2"],
        vec!["validate"],
        vec!["fractal", "--input", f],
        vec![
            "fractal",
            "--input",
            f,
            "--threshold",
            "-0.08",
            "--num-scales",
            "3",
        ],
        vec!["ifs", "--seed", "9", "--points", "5000"],
        vec!["ifs"],
    ];
    for verb in verbs {
        let mut local = verb.clone();
        local.extend(["--format", "json"]);
        let mut remote = vec!["--remote", url.as_str()];
        remote.extend(local.iter().copied());
        // The server returns no activator/inhibitor arrays, so a remote report has no
        // digests of them; every other key is the same, byte for byte.
        let mut local_report: serde_json::Value = serde_json::from_str(&stdout_of(&local)).unwrap();
        if let Some(map) = local_report.as_object_mut() {
            map.remove("activator_sha256");
            map.remove("inhibitor_sha256");
        }
        let remote_report: serde_json::Value = serde_json::from_str(&stdout_of(&remote)).unwrap();
        assert_eq!(local_report, remote_report, "{verb:?}");
    }
}

#[test]
fn remote_errors_are_one_line_naming_the_field() {
    let (_server, url) = start();
    let out = mfn()
        .args(["--remote", &url, "simulate", "--grid-size", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("grid_size") && err.contains("[4, 512]"),
        "{err}"
    );

    let out = mfn()
        .args(["--remote", &url, "ifs", "--points", "2000000"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("points") && err.contains("1000000"), "{err}");

    let out = mfn()
        .args(["--remote", &url, "simulate", "--repeat", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--repeat"));
}
