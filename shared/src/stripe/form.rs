//! `application/x-www-form-urlencoded`, the body format of every Stripe request.
//! Nested values are flat keys with brackets (`metadata[order]`,
//! `payment_method_types[]`); Stripe rebuilds the structure from the key names.

/// An ordered list of form fields. Order is kept so a body is reproducible byte
/// for byte (Stripe compares bodies sent under one `Idempotency-Key`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new() -> Form {
        Form::default()
    }

    /// Appends `key=value`; a repeated key (such as `payment_method_types[]`) is
    /// appended again, not replaced.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Form {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// `parent[child]=value`, e.g. `metadata[our_intent_id]=pi_…`.
    pub fn push_nested(
        &mut self,
        parent: &str,
        child: &str,
        value: impl Into<String>,
    ) -> &mut Form {
        self.push(format!("{parent}[{child}]"), value)
    }

    /// `parent[]=value`: one element of a list.
    pub fn push_list(&mut self, parent: &str, value: impl Into<String>) -> &mut Form {
        self.push(format!("{parent}[]"), value)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `k1=v1&k2=v2`, each side through [`encode_component`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, k);
            out.push('=');
            encode_into(&mut out, v);
        }
        out
    }
}

/// The WHATWG urlencoded byte serializer: ASCII alphanumerics and `*-._` stay,
/// space becomes `+`, every other UTF-8 byte becomes `%XX`. Brackets are encoded
/// too (`%5B`, `%5D`); Stripe decodes them before reading the key.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The inverse, for tests only: the Worker never reads form bodies.
    pub(crate) fn decode(body: &str) -> Vec<(String, String)> {
        if body.is_empty() {
            return Vec::new();
        }
        body.split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode_component(k), decode_component(v))
            })
            .collect()
    }

    fn decode_component(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn encodes_nested_keys_and_reserved_characters() {
        let mut f = Form::new();
        f.push("amount", "1250")
            .push_nested("metadata", "our_intent_id", "pi_1")
            .push_list("payment_method_types", "card")
            .push("description", "Tea & cake = 2×5%, ok?");
        assert_eq!(
            f.encode(),
            "amount=1250&metadata%5Bour_intent_id%5D=pi_1&payment_method_types%5B%5D=card\
             &description=Tea+%26+cake+%3D+2%C3%975%25%2C+ok%3F"
        );
        assert_eq!(Form::new().encode(), "");
        assert_eq!(encode_component("a+b/c~*-._"), "a%2Bb%2Fc%7E*-._");
    }

    proptest! {
        #[test]
        fn round_trips_any_strings(pairs in prop::collection::vec((".*", ".*"), 0..8)) {
            let mut f = Form::new();
            for (k, v) in &pairs {
                f.push(k.clone(), v.clone());
            }
            let body = f.encode();
            prop_assert!(body.bytes().all(|b| b.is_ascii_graphic()));
            // No form is ambiguous: an empty one is "", one empty pair is "=".
            prop_assert_eq!(decode(&body), pairs);
        }
    }
}
