//! A rendered response: status, headers, body. The server turns it into an HTTP response.

use http::{header, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

/// A response ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Headers beyond `Content-Type` (which follows from `body`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Body; empty for none. When non-empty it is JSON, unless a `Content-Type` header
    /// says otherwise.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON reply.
    pub fn json(status: StatusCode, body: &Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            // Serialising a `Value` cannot fail.
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// An empty reply.
    pub fn empty(status: StatusCode) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: HeaderName, value: HeaderValue) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// Adds `Cache-Control: no-store` (every token response carries it).
    pub fn no_store(self) -> Reply {
        self.with(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
            .with(header::PRAGMA, HeaderValue::from_static("no-cache"))
    }

    /// Adds `Retry-After: secs`.
    pub fn retry_after(self, secs: u64) -> Reply {
        self.with(header::RETRY_AFTER, HeaderValue::from(secs.max(1)))
    }

    /// Adds the RFC 6750 challenge: `Bearer`, with `error="invalid_token"` when a token
    /// was presented.
    pub fn bearer_challenge(self, token_given: bool) -> Reply {
        let v = if token_given {
            HeaderValue::from_static(r#"Bearer realm="latchkey", error="invalid_token""#)
        } else {
            HeaderValue::from_static(r#"Bearer realm="latchkey""#)
        };
        self.with(header::WWW_AUTHENTICATE, v)
    }

    /// The contract's 404.
    pub fn not_found() -> Reply {
        Reply::json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not_found"}),
        )
    }

    /// The contract's 405 with `Allow`.
    pub fn method_not_allowed(allow: &[http::Method]) -> Reply {
        let list: Vec<&str> = allow.iter().map(http::Method::as_str).collect();
        let r = Reply::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method_not_allowed"}),
        );
        match HeaderValue::from_str(&list.join(", ")) {
            Ok(v) => r.with(header::ALLOW, v),
            Err(_) => r,
        }
    }
}

/// Formats Unix milliseconds as RFC 3339 UTC with milliseconds: `2024-09-12T13:57:28.148Z`.
///
/// Written digit by digit: most answers carry two or three of these, and `format!` took
/// a microsecond each (a tenth of a whole `/users/me` answered from memory).
pub fn rfc3339_ms(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let Ok(year) = u32::try_from(t.year()) else {
        // Before year 0: never a time this server records, kept readable all the same.
        return formatted(t);
    };
    let fields = [
        (year, 4, '-'),
        (u32::from(u8::from(t.month())), 2, '-'),
        (u32::from(t.day()), 2, 'T'),
        (u32::from(t.hour()), 2, ':'),
        (u32::from(t.minute()), 2, ':'),
        (u32::from(t.second()), 2, '.'),
        (u32::from(t.millisecond()), 3, 'Z'),
    ];
    let mut out = String::with_capacity(24);
    for (value, width, then) in fields {
        for place in (0..width).rev() {
            let digit = value / 10u32.pow(place) % 10;
            out.push(char::from_digit(digit, 10).unwrap_or('0'));
        }
        out.push(then);
    }
    out
}

/// The same, through the general formatter (any year).
fn formatted(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(
            super::rfc3339_ms(1_726_149_448_148),
            "2024-09-12T13:57:28.148Z"
        );
        assert_eq!(super::rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            super::rfc3339_ms(253_402_300_799_999),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            super::rfc3339_ms(-62_167_219_200_000),
            "0000-01-01T00:00:00.000Z"
        );
        assert_eq!(
            super::rfc3339_ms(-62_167_219_200_001),
            "-001-12-31T23:59:59.999Z"
        );
        assert_eq!(super::rfc3339_ms(253_402_300_800_000), "");
        // Digit by digit, as the general formatter writes it.
        let mut ms: i64 = -62_167_219_200_000;
        while ms < 253_402_300_799_999 {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap();
            let expected = super::formatted(t);
            assert_eq!(super::rfc3339_ms(ms), expected);
            ms += 1_234_567_891_234;
        }
    }
}
