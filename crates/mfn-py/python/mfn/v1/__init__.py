"""Generated gRPC stubs of `crates/mfn-proto/proto/mfn/v1/mfn.proto` (grpcio-tools 1.85.1;
regenerated and compared by scripts/test.sh). Imported by `mfn.Client` only."""
