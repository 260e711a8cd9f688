//! Checks of a parsed target file that serde cannot make: `host:port`
//! values with a real port, TLS files that exist. Each problem names the key,
//! the value and, found in the text, its line:column, so a person can fix the
//! file without running anything.

use std::path::Path;

use super::{MtpKind, Target, WebSocketTarget};

/// A problem with the position of the offending value, when it can be found.
pub struct Problem {
    pub position: Option<(usize, usize)>,
    pub message: String,
}

/// The first `host:port` value whose port is not a number in 1..=65535.
pub fn bad_address(target: &Target, text: &str) -> Option<Problem> {
    let mut addresses: Vec<(&str, &str)> = Vec::new();
    if let Some(WebSocketTarget::Server { listen, .. }) = &target.websocket {
        addresses.push(("websocket.listen", listen));
    }
    if let Some(m) = &target.mqtt {
        addresses.push(("mqtt.broker", &m.broker));
    }
    if let Some(s) = &target.stomp {
        addresses.push(("stomp.broker", &s.broker));
    }
    if let Some(c) = &target.coap {
        addresses.push(("coap.listen", &c.listen));
    }
    addresses.into_iter().find_map(|(key, value)| {
        let problem = address_problem(value)?;
        Some(Problem {
            position: position_of(text, key, value),
            message: format!("{key} `{value}`: {problem}"),
        })
    })
}

/// The first `controllers:` entry with a key of another MTP (`topic` is
/// for MQTT, `destination` for STOMP, `listen` for WebSocket, `socket` for
/// UDS): ignoring it
/// would leave the harness waiting where the Agent never sends.
pub fn misplaced_controller_key(target: &Target, text: &str) -> Option<Problem> {
    target.controllers.iter().find_map(|c| {
        let keys = [
            ("topic", &c.topic, MtpKind::Mqtt, "mqtt"),
            ("destination", &c.destination, MtpKind::Stomp, "stomp"),
            ("listen", &c.listen, MtpKind::Websocket, "websocket"),
            ("socket", &c.socket, MtpKind::Uds, "uds"),
        ];
        keys.into_iter().find_map(|(key, value, mtp, name)| {
            let value = value.as_ref().filter(|_| target.mtp != mtp)?;
            Some(Problem {
                position: position_of(text, key, value),
                message: format!(
                    "controllers: `{}` has {key} `{value}`, which is for mtp: {name} only (this target's mtp is {})",
                    c.name,
                    mtp_name(target.mtp)
                ),
            })
        })
    })
}

fn mtp_name(mtp: MtpKind) -> &'static str {
    match mtp {
        MtpKind::Websocket => "websocket",
        MtpKind::Mqtt => "mqtt",
        MtpKind::Uds => "uds",
        MtpKind::Stomp => "stomp",
        MtpKind::Coap => "coap",
    }
}

/// Why `value` is not `host:port` with a usable port.
fn address_problem(value: &str) -> Option<&'static str> {
    let Some((host, port)) = value.rsplit_once(':') else {
        return Some("expected HOST:PORT, e.g. 127.0.0.1:1883");
    };
    if host.is_empty() {
        return Some("the host is missing (HOST:PORT)");
    }
    match port.parse::<u16>() {
        Ok(0) => Some("port 0 cannot be reached; give the port the Agent or broker uses"),
        Ok(_) => None,
        Err(_) => Some("the port must be a number from 1 to 65535"),
    }
}

/// The first TLS file (`ca`, `cert`, `key`) that cannot be read, resolved
/// against `dir` (the target file's directory).
pub fn missing_tls_file(target: &Target, text: &str, dir: &Path) -> Option<Problem> {
    let tls = target.tls.as_ref()?;
    if !matches!(
        target.mtp,
        MtpKind::Websocket | MtpKind::Mqtt | MtpKind::Stomp
    ) {
        return None;
    }
    [
        ("tls.ca", &tls.ca),
        ("tls.cert", &tls.cert),
        ("tls.key", &tls.key),
    ]
    .into_iter()
    .find_map(|(key, path)| {
        let path = path.as_ref()?;
        let resolved = dir.join(path);
        let error = std::fs::metadata(&resolved)
            .err()
            .map(|e| e.to_string())
            .or_else(|| (!resolved.is_file()).then(|| "not a file".to_string()))?;
        Some(Problem {
            position: position_of(text, key, &path.display().to_string()),
            message: format!(
                "{key} `{}` cannot be read ({}): {error}",
                path.display(),
                resolved.display()
            ),
        })
    })
}

/// 1-based line and column of `value` on a line whose key is the last part
/// of `key` (`listen` for `websocket.listen`); the values are plain strings
/// after parsing, so the position is found again in the text.
pub fn position_of(text: &str, key: &str, value: &str) -> Option<(usize, usize)> {
    let name = key.rsplit('.').next().unwrap_or(key);
    text.lines()
        .enumerate()
        .find_map(|(i, line)| {
            let rest = line.trim_start().strip_prefix(name)?;
            let rest = rest.trim_start().strip_prefix(':')?;
            let at = line.len() - rest.len() + rest.find(value)?;
            Some((i + 1, line[..at].chars().count() + 1))
        })
        .or_else(|| in_flow_mapping(text, name, value))
}

/// `name: value` inside a flow mapping (`- { name: x, topic: y }`).
fn in_flow_mapping(text: &str, name: &str, value: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        ["{", ","].iter().find_map(|before| {
            let pair = line.find(&format!("{before} {name}: "))?;
            let after_key = pair + before.len() + 1 + name.len() + 1;
            let at = after_key + line[after_key..].find(value)?;
            Some((i + 1, line[..at].chars().count() + 1))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_in_a_block_or_a_flow_mapping() {
        let block = "controllers:\n  - name: ro\n    topic: a/b\n";
        assert_eq!(position_of(block, "topic", "a/b"), Some((3, 12)));
        let flow = "controllers:\n  - { name: ro, topic: a/b }\n";
        assert_eq!(position_of(flow, "topic", "a/b"), Some((2, 24)));
        assert_eq!(position_of(flow, "listen", "x"), None);
    }

    #[test]
    fn ports_outside_1_to_65535_are_refused() {
        assert!(address_problem("127.0.0.1:1883").is_none());
        assert!(address_problem("[::1]:1883").is_none());
        assert!(address_problem("127.0.0.1:99999").is_some());
        assert!(address_problem("127.0.0.1:0").is_some());
        assert!(address_problem("127.0.0.1").is_some());
        assert!(address_problem(":1883").is_some());
        assert!(address_problem("127.0.0.1:http").is_some());
    }

    #[test]
    fn finds_the_value_after_its_key() {
        let text = "name: x\nmqtt:\n  broker: 127.0.0.1:99999\n";
        assert_eq!(
            position_of(text, "mqtt.broker", "127.0.0.1:99999"),
            Some((3, 11))
        );
        assert_eq!(position_of(text, "mqtt.broker", "nowhere"), None);
    }
}
