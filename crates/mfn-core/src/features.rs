//! features (in progress)
