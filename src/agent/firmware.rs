//! DRAFT-Firmware:1: `FirmwareImage.{i}.Download()` (the row's Status lifecycle and the
//! image's validation once the runtime has fetched it) and `Activate()`.
//! Failures use 7022 Command failure: TR-369's error table has no transfer-specific code.

use std::collections::BTreeMap;

use ring::digest;

use super::effects::Clock;
use super::model::Model;
use crate::usp::errors;

pub const FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// A Download() between its OperateResp and its OperationComplete.
#[derive(Clone, Debug)]
pub struct PendingDownload {
    /// "Device.DeviceInfo.FirmwareImage.2."
    pub image: String,
    /// "Device.LocalAgent.Request.1"
    pub request: String,
    pub controller: String,
    pub command_key: String,
    pub url: String,
    pub username: String,
    pub password: String,
    pub file_size: Option<u64>,
    pub target_name: String,
    pub algorithm: String,
    pub checksum: String,
    pub auto_activate: bool,
    pub started: String,
    /// The row's Status and Available before the download, restored when
    /// the operation is canceled (Request.{i}.Cancel()).
    pub previous: (String, String),
}

/// A failure: USP error code and message.
pub type Failure = (u32, String);

/// Checks Download()'s input args; on success the row goes to Downloading.
/// R-OPR.5: a missing mandatory argument (URL) is cmd_failure 7027.
pub fn start(
    model: &mut Model,
    image: &str,
    args: &BTreeMap<String, String>,
    clock: &Clock,
) -> Result<PendingDownload, Failure> {
    let arg = |n: &str| args.get(n).cloned().unwrap_or_default();
    let bad = |why: String| (errors::INVALID_COMMAND_ARGS, why);
    let url = arg("URL");
    if url.is_empty() {
        return Err(bad(
            "Download(): the mandatory URL argument is missing".into()
        ));
    }
    let file_size = match args.get("FileSize").map(|s| s.trim()) {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| bad(format!("FileSize \"{s}\" is not an unsignedInt")))?,
        ),
    };
    let algorithm = arg("CheckSumAlgorithm");
    if !matches!(
        algorithm.as_str(),
        "" | "SHA-1" | "SHA-224" | "SHA-256" | "SHA-384" | "SHA-512"
    ) {
        return Err(bad(format!("CheckSumAlgorithm \"{algorithm}\" is not one of SHA-1, SHA-224, SHA-256, SHA-384, SHA-512")));
    }
    let checksum = arg("CheckSum");
    if !checksum.is_empty() && algorithm.is_empty() {
        return Err(bad("CheckSum given without CheckSumAlgorithm".into()));
    }
    let auto_activate = matches!(arg("AutoActivate").as_str(), "true" | "1");
    let previous = (
        model.value(image, "Status").unwrap_or_default(),
        model.value(image, "Available").unwrap_or_default(),
    );
    model.put(image, "Status", "Downloading");
    model.put(image, "Available", "false");
    Ok(PendingDownload {
        image: image.to_string(),
        request: String::new(),
        controller: String::new(),
        command_key: String::new(),
        url,
        username: arg("Username"),
        password: arg("Password"),
        file_size,
        target_name: arg("TargetFileName"),
        algorithm,
        checksum,
        auto_activate,
        started: clock.date_time(),
        previous,
    })
}

/// Validates the fetched file (or records the fetch failure) and updates the row:
/// Available, or DownloadFailed / ValidationFailed.
pub fn finish(
    model: &mut Model,
    job: &PendingDownload,
    fetched: Result<Vec<u8>, String>,
    ignore_checksum: bool,
) -> Result<(), Failure> {
    let body = match fetched {
        Ok(b) => b,
        Err(why) => {
            model.put(&job.image, "Status", "DownloadFailed");
            return Err((
                errors::COMMAND_FAILURE,
                format!("download of {} failed: {why}", job.url),
            ));
        }
    };
    model.put(&job.image, "Status", "Validating");
    if let Err(why) = validate(job, &body, ignore_checksum) {
        model.put(&job.image, "Status", "ValidationFailed");
        return Err((errors::COMMAND_FAILURE, why));
    }
    let name = if job.target_name.is_empty() {
        job.url
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string()
    } else {
        job.target_name.clone()
    };
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let version = String::from_utf8_lossy(first_line)
        .trim_end_matches('\r')
        .strip_prefix("version=")
        .map(str::to_string)
        .unwrap_or_else(|| name.clone());
    model.put(&job.image, "Name", name);
    model.put(&job.image, "Version", version);
    model.put(&job.image, "Available", "true");
    model.put(&job.image, "Status", "Available");
    model.put(&job.image, "BootFailureLog", "");
    Ok(())
}

fn validate(job: &PendingDownload, body: &[u8], ignore_checksum: bool) -> Result<(), String> {
    if let Some(size) = job.file_size.filter(|s| *s > 0) {
        if body.len() as u64 != size {
            return Err(format!(
                "FileSize is {size} but {} bytes arrived",
                body.len()
            ));
        }
    }
    if job.checksum.is_empty() {
        return Ok(());
    }
    let algorithm = match job.algorithm.as_str() {
        "SHA-1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "SHA-256" => &digest::SHA256,
        "SHA-384" => &digest::SHA384,
        "SHA-512" => &digest::SHA512,
        // ring has no SHA-224 and the tree has no other SHA-2 crate: said plainly.
        other => {
            return Err(format!(
                "CheckSumAlgorithm {other} is not supported by this Agent"
            ))
        }
    };
    let got: String = digest::digest(algorithm, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !got.eq_ignore_ascii_case(job.checksum.trim()) && !ignore_checksum {
        return Err(format!(
            "{} CheckSum mismatch: expected {}, the file has {got}",
            job.algorithm, job.checksum
        ));
    }
    Ok(())
}

/// TransferComplete! arguments (DRAFT-Firmware:1); FaultCode "0" / FaultString "" on success.
pub fn transfer_complete_args(
    job: &PendingDownload,
    outcome: &Result<(), Failure>,
    clock: &Clock,
) -> BTreeMap<String, String> {
    let (code, text) = match outcome {
        Ok(()) => ("0".to_string(), String::new()),
        Err((c, t)) => (c.to_string(), t.clone()),
    };
    [
        ("Command", format!("{}Download()", job.image)),
        ("CommandKey", job.command_key.clone()),
        ("Requestor", job.controller.clone()),
        ("TransferType", "Download".into()),
        ("FileType", FILE_TYPE.into()),
        ("TransferURL", job.url.clone()),
        ("StartTime", job.started.clone()),
        ("CompleteTime", clock.date_time()),
        ("FaultCode", code),
        ("FaultString", text),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Activate(): only an Available image can be activated.
pub fn check_activate(model: &Model, image: &str) -> Result<(), Failure> {
    match model.value(image, "Status").as_deref() {
        Some("Available") => Ok(()),
        other => Err((
            errors::COMMAND_FAILURE,
            format!(
                "{image} cannot be activated: its Status is {}, not Available",
                other.unwrap_or("unknown")
            ),
        )),
    }
}

/// At boot after Activate(): the image is the active and boot image.
pub fn boot_into(model: &mut Model, image: &str) {
    let row = image.trim_end_matches('.');
    model.put("Device.DeviceInfo.", "ActiveFirmwareImage", row);
    model.put("Device.DeviceInfo.", "BootFirmwareImage", row);
    if let Some(v) = model.value(image, "Version") {
        model.put("Device.DeviceInfo.", "SoftwareVersion", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMG: &str = "Device.DeviceInfo.FirmwareImage.2.";

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sha256_hex(b: &[u8]) -> String {
        digest::digest(&digest::SHA256, b)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    #[test]
    fn missing_url_is_7027() {
        let mut m = Model::new("proto::a");
        let e = start(&mut m, IMG, &args(&[]), &Clock::now()).unwrap_err();
        assert_eq!(e.0, 7027);
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("NoImage"));
    }

    #[test]
    fn good_file_becomes_available_with_version_from_first_line() {
        let mut m = Model::new("proto::a");
        let body = b"version=2.0\nbits".to_vec();
        let sum = sha256_hex(&body);
        let a = args(&[
            ("URL", "http://127.0.0.1:1/fw/new.bin"),
            ("CheckSumAlgorithm", "SHA-256"),
            ("CheckSum", &sum),
            ("FileSize", "16"),
        ]);
        let job = start(&mut m, IMG, &a, &Clock::now()).unwrap();
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("Downloading"));
        finish(&mut m, &job, Ok(body), false).unwrap();
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("Available"));
        assert_eq!(m.value(IMG, "Name").as_deref(), Some("new.bin"));
        assert_eq!(m.value(IMG, "Version").as_deref(), Some("2.0"));
        assert_eq!(m.value(IMG, "Available").as_deref(), Some("true"));
    }

    #[test]
    fn checksum_mismatch_fails_unless_the_fault_ignores_it() {
        let a = args(&[
            ("URL", "http://127.0.0.1:1/x.bin"),
            ("CheckSumAlgorithm", "SHA-256"),
            ("CheckSum", &"00".repeat(32)),
        ]);
        let mut m = Model::new("proto::a");
        let job = start(&mut m, IMG, &a, &Clock::now()).unwrap();
        let e = finish(&mut m, &job, Ok(b"data".to_vec()), false).unwrap_err();
        assert_eq!(e.0, 7022);
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("ValidationFailed"));
        let mut m = Model::new("proto::a");
        let job = start(&mut m, IMG, &a, &Clock::now()).unwrap();
        finish(&mut m, &job, Ok(b"data".to_vec()), true).unwrap();
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("Available"));
    }

    #[test]
    fn fetch_failure_is_download_failed_and_size_mismatch_validation_failed() {
        let mut m = Model::new("proto::a");
        let a = args(&[("URL", "http://127.0.0.1:1/x.bin"), ("FileSize", "3")]);
        let job = start(&mut m, IMG, &a, &Clock::now()).unwrap();
        finish(&mut m, &job, Err("connection refused".into()), false).unwrap_err();
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("DownloadFailed"));
        finish(&mut m, &job, Ok(b"four".to_vec()), false).unwrap_err();
        assert_eq!(m.value(IMG, "Status").as_deref(), Some("ValidationFailed"));
        assert!(check_activate(&m, IMG).is_err());
        assert!(check_activate(&m, "Device.DeviceInfo.FirmwareImage.1.").is_ok());
    }
}

/// A canceled Download(): the row goes back to what it was before.
pub fn cancel(model: &mut Model, job: &PendingDownload) {
    model.put(&job.image, "Status", &job.previous.0);
    model.put(&job.image, "Available", &job.previous.1);
}
