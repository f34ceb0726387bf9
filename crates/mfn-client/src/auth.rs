//! Request ids and the signature scheme of SERVICE.md: `x-signature` = lowercase hex
//! HMAC-SHA256(key = API key, message = `{timestamp}:{request_id}:{path}`).
//!
//! Every attempt of a call gets its own request id, timestamp and signature, so a
//! retry is never mistaken for a replay by the server's replay cache.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::metadata::{MetadataMap, MetadataValue};

use crate::config::AuthMode;
use crate::error::ClientError;

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The API key header.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The Unix-seconds timestamp header of signed requests.
pub const TIMESTAMP_HEADER: &str = "x-timestamp";
/// The signature header of signed requests.
pub const SIGNATURE_HEADER: &str = "x-signature";

/// Lowercase hex HMAC-SHA256 of `{timestamp}:{request_id}:{path}` keyed with the
/// API key's bytes: the `x-signature` of a signed request.
///
/// `path` is the gRPC method path (`/mfn.v1.MFNSimulationService/RunSimulation`)
/// or the HTTP path.
///
/// ```
/// let sig = mfn_client::sign("key", 1_700_000_000, "id-1", "/mfn.v1.MyceliumService/HealthCheck");
/// assert_eq!(sig.len(), 64);
/// ```
pub fn sign(key: &str, timestamp: i64, request_id: &str, path: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(format!("{timestamp}:{request_id}:{path}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Credentials as the client holds them.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) mode: AuthMode,
    pub(crate) key: Option<String>,
}

/// The headers of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) request_id: String,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Credentials {
    /// A fresh request id, and for signed mode a fresh timestamp and signature.
    pub(crate) fn attempt(&self, path: &str) -> Attempt {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.attempt_at(path, now, uuid::Uuid::new_v4().to_string())
    }

    fn attempt_at(&self, path: &str, timestamp: i64, request_id: String) -> Attempt {
        let mut headers = vec![(REQUEST_ID_HEADER, request_id.clone())];
        if let (AuthMode::Key | AuthMode::Signed, Some(key)) = (self.mode, &self.key) {
            headers.push((API_KEY_HEADER, key.clone()));
            if self.mode == AuthMode::Signed {
                headers.push((TIMESTAMP_HEADER, timestamp.to_string()));
                headers.push((SIGNATURE_HEADER, sign(key, timestamp, &request_id, path)));
            }
        }
        Attempt {
            request_id,
            headers,
        }
    }
}

impl Attempt {
    /// Write the headers into a request's metadata, replacing earlier values.
    pub(crate) fn apply(&self, metadata: &mut MetadataMap) -> Result<(), ClientError> {
        for (name, value) in &self.headers {
            let v = MetadataValue::try_from(value.as_str()).map_err(|_| {
                ClientError::InvalidConfig(format!("{name} is not a valid header value"))
            })?;
            metadata.insert(*name, v);
        }
        Ok(())
    }

    /// The value of header `name`.
    #[cfg(test)]
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/mfn.v1.MFNSimulationService/RunSimulation";

    fn signed() -> Credentials {
        Credentials {
            mode: AuthMode::Signed,
            key: Some("test-key-0123456789".into()),
        }
    }

    #[test]
    fn signature_matches_python_hmac() {
        // python3 -c "import hmac,hashlib; print(hmac.new(b'test-key-0123456789',
        //   b'1700000000:3f2c1a9e-0000-4000-8000-000000000001:/mfn.v1.MFNSimulationService/RunSimulation',
        //   hashlib.sha256).hexdigest())"
        assert_eq!(
            sign(
                "test-key-0123456789",
                1_700_000_000,
                "3f2c1a9e-0000-4000-8000-000000000001",
                PATH
            ),
            "85b69f689e5401f52de4cae816d228102a5bebd769f4dfdabf75990e6ad708b6"
        );
        // hmac.new(b'', b'0::/', hashlib.sha256).hexdigest()
        assert_eq!(
            sign("", 0, "", "/"),
            "1ee44bca5782203f8a2755c388998a6cdfe313b51b9e57ab25d101e8178b96f7"
        );
    }

    #[test]
    fn signed_attempt_carries_every_header() {
        let a = signed().attempt_at(
            PATH,
            1_700_000_000,
            "3f2c1a9e-0000-4000-8000-000000000001".into(),
        );
        assert_eq!(a.header(API_KEY_HEADER), Some("test-key-0123456789"));
        assert_eq!(a.header(TIMESTAMP_HEADER), Some("1700000000"));
        assert_eq!(
            a.header(SIGNATURE_HEADER),
            Some("85b69f689e5401f52de4cae816d228102a5bebd769f4dfdabf75990e6ad708b6")
        );
        let mut md = MetadataMap::new();
        a.apply(&mut md).unwrap();
        assert_eq!(
            md.get(REQUEST_ID_HEADER).unwrap(),
            "3f2c1a9e-0000-4000-8000-000000000001"
        );
        assert_eq!(md.len(), 4);
    }

    #[test]
    fn every_attempt_is_fresh() {
        let c = signed();
        let (a, b) = (c.attempt(PATH), c.attempt(PATH));
        assert_ne!(a.header(REQUEST_ID_HEADER), b.header(REQUEST_ID_HEADER));
        assert_ne!(a.header(SIGNATURE_HEADER), b.header(SIGNATURE_HEADER));
        let ts: i64 = b.header(TIMESTAMP_HEADER).unwrap().parse().unwrap();
        assert_eq!(
            b.header(SIGNATURE_HEADER).unwrap(),
            sign("test-key-0123456789", ts, &b.request_id, PATH)
        );
        assert!(uuid::Uuid::parse_str(&a.request_id).is_ok());
    }

    #[test]
    fn modes_send_only_their_headers() {
        let key = Credentials {
            mode: AuthMode::Key,
            key: Some("k".into()),
        }
        .attempt(PATH);
        assert_eq!(key.headers.len(), 2);
        assert!(key.header(SIGNATURE_HEADER).is_none());
        let off = Credentials {
            mode: AuthMode::None,
            key: Some("k".into()),
        }
        .attempt(PATH);
        assert_eq!(off.headers.len(), 1, "no key leaks in mode off");
    }
}
