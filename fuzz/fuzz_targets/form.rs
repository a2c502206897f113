//! Form bodies (`application/x-www-form-urlencoded`: Cashcloud's callbacks, and the
//! forms we send): an accepted body means what the URL standard's own parser says it
//! means, and written back decodes to the same pairs; any pairs we encode are plain
//! ASCII and decode to themselves.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shared::http::{decode_form, Form};

fn encode(pairs: &[(String, String)]) -> String {
    let mut f = Form::new();
    for (k, v) in pairs {
        f.push(k.clone(), v.clone());
    }
    f.encode()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = decode_form(data) {
        let standard: Vec<(String, String)> = url::form_urlencoded::parse(data)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(pairs, standard);
        assert_eq!(decode_form(encode(&pairs).as_bytes()), Ok(pairs));
    }
    // The other direction: NUL-separated names and values, encoded and decoded.
    if let Ok(text) = std::str::from_utf8(data) {
        let parts: Vec<&str> = text.split('\0').collect();
        let pairs: Vec<(String, String)> = parts
            .chunks(2)
            .map(|c| (c[0].to_owned(), c.get(1).copied().unwrap_or("").to_owned()))
            .collect();
        let body = encode(&pairs);
        assert!(body.bytes().all(|b| b.is_ascii_graphic()), "{body}");
        assert_eq!(decode_form(body.as_bytes()), Ok(pairs));
    }
});
