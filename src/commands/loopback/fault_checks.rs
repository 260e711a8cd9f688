//! Faults the run refuses up front: those that cannot happen, or cannot be
//! seen, on the chosen MTP and setup.

use super::{label, LoopbackOptions};
use crate::agent::faults::{Fault, FaultSet};
use crate::cli::{MtpArg, Role};
use crate::mtp::mqtt::MqttVersion;

/// Refuses a binding fault on an MTP whose binding has no such rule to
/// break: saying so beats a run that passes because the fault never happened.
pub fn check_faults_apply(
    faults: &FaultSet,
    mtp: MtpArg,
    mqtt_version: MqttVersion,
) -> Result<(), String> {
    let mqtt5 = mtp == MtpArg::Mqtt && mqtt_version == MqttVersion::V5;
    for fault in faults.iter() {
        let (applies, where_it_does) = match fault {
            Fault::TextFrames => (mtp == MtpArg::Ws, "--mtp ws"),
            Fault::NoResponseTopic => (mtp == MtpArg::Mqtt, "--mtp mqtt (5 or 3.1.1)"),
            Fault::WrongContentType => (
                mtp == MtpArg::Stomp || mqtt5,
                "--mtp stomp or --mtp mqtt with MQTT 5 (MQTT 3.1.1 has no Content Type)",
            ),
            Fault::NoReplyToDest => (mtp == MtpArg::Stomp, "--mtp stomp"),
            Fault::WrongCloseCode
            | Fault::RetriesTooEarly
            | Fault::KeepsBothSessions
            | Fault::WsCloseUnanswered => (mtp == MtpArg::Ws, "--mtp ws"),
            // Over WebSocket the binding's own answer is Close 1003
            // (wrong-close-code breaks that); CoAP answers 4.00.
            Fault::DropsSessionOnBadRecord => (
                matches!(mtp, MtpArg::Mqtt | MtpArg::Stomp | MtpArg::Uds),
                "--mtp mqtt, --mtp stomp or --mtp uds",
            ),
            _ => continue,
        };
        if !applies {
            return Err(format!(
                "the {fault} fault cannot happen over {}: it applies with {where_it_does} only",
                label(mtp, mqtt_version)
            ));
        }
    }
    Ok(())
}

/// `--interpose` runs on MQTT or STOMP (with `--tls` the Agent reaches
/// the interposer over TLS), and the faults only the interposer can see
/// are refused without it: a run that passes because the fault was never
/// observable would mislead.
pub(super) fn check_interposer_faults(
    faults: &FaultSet,
    options: &LoopbackOptions,
) -> Result<(), String> {
    let brokered = matches!(options.mtp, MtpArg::Mqtt | MtpArg::Stomp);
    if options.interpose && !brokered {
        return Err("--interpose works with --mtp mqtt or --mtp stomp only".into());
    }
    // A plaintext Agent is seen by a TLS listener that tells it from a
    // ClientHello: the harness's WebSocket server, or an interposer.
    // Elsewhere the broker (or the harness's TLS client) would only refuse
    // it, and every case would fail for one fault.
    if faults.contains(Fault::MtpTlsIgnored) {
        let seen = options.tls.is_some()
            && match options.mtp {
                MtpArg::Ws => options.role == Role::Server,
                MtpArg::Mqtt | MtpArg::Stomp => options.interpose,
                MtpArg::Uds | MtpArg::Coap => false,
            };
        if !seen {
            return Err("the mtp-tls-ignored fault applies with --tls and either --mtp ws --role server, or --mtp mqtt/stomp --interpose (a listener that expects TLS must see the Agent's plaintext)".into());
        }
    }
    for fault in [
        Fault::WrongHeartBeatHeader,
        Fault::IgnoresSubscribeDest,
        Fault::StompRetriesTooEarly,
        Fault::StompIgnoresModelDestination,
        Fault::StompNoDisconnectWithoutDestination,
        Fault::StompNoUnsubscribeOnDestinationChange,
        Fault::StompWrongHeartBeat,
        Fault::StompSubscribesBeforeUnsubscribe,
    ] {
        if faults.contains(fault) && !(options.interpose && options.mtp == MtpArg::Stomp) {
            return Err(format!(
                "the {fault} fault can only be seen through the STOMP interposer: it applies with --mtp stomp --interpose only"
            ));
        }
    }
    for fault in [
        Fault::IgnoresSubscribeTopic,
        Fault::NoRequestResponseInformation,
        Fault::RetriesOutsideWindow,
        Fault::NewClientIdOnReconnect,
        Fault::IgnoresAssignedClientIdentifier,
        Fault::IgnoresKeepAliveTime,
        Fault::IgnoresServerKeepAlive,
        Fault::MqttFixedRetryWhenBrokerDown,
        Fault::MqttStaysWithoutSubscribeTopic,
        Fault::MqttIgnoresNewSubscription,
        Fault::MqttWrongQos,
    ] {
        if faults.contains(fault) && !(options.interpose && options.mqtt_version == MqttVersion::V5)
        {
            return Err(format!(
                "the {fault} fault can only be seen through the MQTT interposer: it applies with --mtp mqtt --interpose (MQTT 5) only"
            ));
        }
    }
    Ok(())
}

/// The permission faults are seen only by the read-only Controller, which
/// the harness cannot be over CoAP: there they are refused, as a run that
/// passes because nobody could see them would mislead.
pub(super) fn check_trust_faults(faults: &FaultSet, mtp: MtpArg) -> Result<(), String> {
    for fault in [
        Fault::IgnoresPermissions,
        Fault::HiddenParamsReadable,
        Fault::NotifyWithoutPermission,
        Fault::UntrustedGetsFullAccess,
        Fault::AddedRoleIgnored,
        Fault::AddedPermissionIgnored,
    ] {
        if faults.contains(fault) && mtp == MtpArg::Coap {
            return Err(format!(
                "the {fault} fault can only be seen by a second Controller, which the harness cannot act as over CoAP: it applies with --mtp ws, mqtt, stomp or uds"
            ));
        }
    }
    Ok(())
}

/// The CoAP faults happen on CoAP only: a run on another MTP that passes
/// because the fault never showed would mislead.
pub(super) fn check_coap_faults(
    faults: &FaultSet,
    options: &LoopbackOptions,
) -> Result<(), String> {
    for fault in [
        Fault::CoapWrongContentFormat,
        Fault::CoapNoBlockWise,
        Fault::CoapCreatedNotChanged,
        Fault::CoapNoRetransmit,
        Fault::CoapLenientInbox,
    ] {
        if faults.contains(fault) && options.mtp != MtpArg::Coap {
            return Err(format!(
                "the {fault} fault happens on CoAP only: it applies with --mtp coap"
            ));
        }
    }
    Ok(())
}
