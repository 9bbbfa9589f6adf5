//! Stripe's request encoding: `application/x-www-form-urlencoded` with
//! nested parameters spelled `a[b][c]=v` and lists `a[0]=v`. Built by hand
//! so the exact bytes are unit-tested and nothing but the fields we name is
//! ever sent (no card data can slip in through a generic serializer).

/// Form parameters in the order they were added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A top-level parameter.
    pub(crate) fn field(mut self, key: &str, value: impl ToString) -> Self {
        self.pairs.push((key.to_owned(), value.to_string()));
        self
    }

    /// A nested parameter: `["metadata", "joule_payment"]` becomes
    /// `metadata[joule_payment]`.
    pub(crate) fn nested(mut self, path: &[&str], value: impl ToString) -> Self {
        let mut key = String::new();
        for (i, part) in path.iter().enumerate() {
            if i == 0 {
                key.push_str(part);
            } else {
                key.push('[');
                key.push_str(part);
                key.push(']');
            }
        }
        self.pairs.push((key, value.to_string()));
        self
    }

    /// A list: `key[0]=a&key[1]=b`.
    pub(crate) fn list(mut self, key: &str, values: &[&str]) -> Self {
        for (i, v) in values.iter().enumerate() {
            self.pairs.push((format!("{key}[{i}]"), (*v).to_owned()));
        }
        self
    }

    /// The request body.
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode_component(k));
            out.push('=');
            out.push_str(&encode_component(v));
        }
        out
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters; safe both
/// in a form body and as one URL path segment.
pub(crate) fn encode_component(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_and_list_parameters_use_stripe_brackets() {
        let form = Form::new()
            .field("amount", 1500)
            .field("currency", "eur")
            .field("capture_method", "manual")
            .list("payment_method_types", &["card"])
            .nested(&["metadata", "joule_payment"], "pay 1/ä")
            .nested(
                &[
                    "payment_method_options",
                    "card",
                    "request_incremental_authorization",
                ],
                "if_available",
            );
        assert_eq!(
            form.encode(),
            "amount=1500&currency=eur&capture_method=manual\
             &payment_method_types%5B0%5D=card\
             &metadata%5Bjoule_payment%5D=pay%201%2F%C3%A4\
             &payment_method_options%5Bcard%5D%5Brequest_incremental_authorization%5D=if_available"
        );
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(encode_component("pi_1/../x?y"), "pi_1%2F..%2Fx%3Fy");
    }
}
