//! Histograms in the report: HdrHistogram's V2 compressed ("deflate") encoding in base64,
//! the form other HDR tools (HdrHistogram Java, HistogramLogProcessor, hdr-plot) read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// The unit every histogram in the report records.
pub const HISTOGRAM_UNIT: &str = "us";

/// The encoding of every histogram in the report.
pub const HISTOGRAM_ENCODING: &str = "hdr-v2-deflate-base64";

/// Why an encoded histogram could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// Not base64.
    #[error("not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// Not an HdrHistogram V2 (compressed) payload.
    #[error("not an HdrHistogram V2 histogram: {0:?}")]
    Hdr(hdrhistogram::serialization::DeserializeError),
}

/// Encodes a histogram as base64 of its V2 compressed form.
pub(crate) fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serialising into a Vec cannot fail for a valid histogram; an empty string reads back
    // as an error, which a merge reports instead of guessing.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    STANDARD.encode(bytes)
}

/// Decodes what [`encode`] wrote (or any V2 / V2-compressed histogram in base64).
pub fn decode(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = STANDARD.decode(text.trim())?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(HistogramError::Hdr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::histogram;

    #[test]
    fn round_trips_bucket_for_bucket() {
        let mut h = histogram(3);
        for v in [0, 1, 7, 1000, 1001, 65_000, 3_000_000] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), h.len());
        assert!(decode("not base64!").is_err());
        assert!(decode("aGVsbG8=").is_err());
    }
}
