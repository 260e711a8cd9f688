//! The faults the reference Agent can be told to commit, so that every check in
//! the shipped test cases can be shown to fail against a misbehaving Agent.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One deliberate misbehaviour. Msg-level faults are applied by `Agent::handle`;
/// Record/transport-level ones by the runtime that owns the MTP; binding
/// faults (`text-frames`, `no-response-topic`, `wrong-content-type`,
/// `no-reply-to-dest`) by a knob in the Agent's transport configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    WrongMsgId,
    WrongMsgType,
    MissingParameter,
    WrongValueType,
    WrongErrorCode,
    MalformedProtobuf,
    WrongToId,
    NoResponse,
    DisconnectMidExchange,
    NoConnectRecord,
    CertEidMismatch,
    TextFrames,
    NoResponseTopic,
    WrongContentType,
    NoReplyToDest,
    BootWithoutCause,
    NoTransferComplete,
    NotifyWhenDisabled,
    AcceptsBadChecksum,
    SubscriptionsNotPersistent,
    ChallengeAcceptsAnything,
    NoPeriodic,
    NoObjectCreation,
    E2eWrongSequence,
    E2eBadSar,
    IgnoresSubscribeTopic,
    NoRequestResponseInformation,
    MalformedEndpointId,
    AdvertisementWithoutName,
    IgnoresPermissions,
    HiddenParamsReadable,
    NotifyWithoutPermission,
    WrongCommandArgs,
    AnswersSendRespFalse,
    CancelIgnored,
    WrongHeartBeatHeader,
    IgnoresSubscribeDest,
    WrongCloseCode,
    RetriesTooEarly,
    KeepsBothSessions,
    AdvertWrongInstance,
    E2eProcessesDuplicates,
    E2eIgnoresRetransmit,
    E2eProcessesOutOfOrder,
    E2eAcceptsMixedSecurity,
    E2eIgnoresNewSession,
    E2eNoSessionContext,
    E2eNeverExpires,
    E2eIntegrityUnchecked,
    E2eBadSignature,
    E2eTlsBadMac,
    E2eTlsNoMac,
    E2eTlsAcceptsAnyCertificate,
    E2eTlsNoClientCertificate,
    E2eTlsCertificateNamesAnother,
    E2eTlsRenegotiationClosesSession,
    E2eSessionRetryImmediately,
    NoAnnouncementAfterReboot,
    AnswersOwnEndpointId,
    AnswersAnyToId,
    E2eTlsAcceptsExpiredCertificate,
    E2eNoClockChecksCertificateDates,
    DhcpNoVendorClass,
    DhcpIgnoresProvisioningCode,
    DhcpIgnoresControllerUrl,
    SecuredRolesIgnored,
    SecuredShownToAnyone,
    LocalNameWithoutMdns,
    AddPermissionAllOrNothing,
    AddRefusesOmittedUnwritable,
    UntrustedGetsFullAccess,
    AddedRoleIgnored,
    AddedPermissionIgnored,
    RetriesOutsideWindow,
    NewClientIdOnReconnect,
    IgnoresAssignedClientIdentifier,
    IgnoresKeepAliveTime,
    IgnoresServerKeepAlive,
    MqttFixedRetryWhenBrokerDown,
    MqttStaysWithoutSubscribeTopic,
    MqttIgnoresNewSubscription,
    MqttWrongQos,
    MqttProfileIncomplete,
    StompRetriesTooEarly,
    WsCloseUnanswered,
    StompIgnoresModelDestination,
    StompNoDisconnectWithoutDestination,
    StompNoUnsubscribeOnDestinationChange,
    StompWrongHeartBeat,
    CoapWrongContentFormat,
    CoapNoBlockWise,
    CoapCreatedNotChanged,
    CoapNoRetransmit,
    CoapLenientInbox,
    StompSubscribesBeforeUnsubscribe,
    StompProfileIncomplete,
    DropsSessionOnBadRecord,
    MtpTlsIgnored,
}

impl Fault {
    pub const ALL: [Fault; 98] = [
        Fault::WrongMsgId,
        Fault::WrongMsgType,
        Fault::MissingParameter,
        Fault::WrongValueType,
        Fault::WrongErrorCode,
        Fault::MalformedProtobuf,
        Fault::WrongToId,
        Fault::NoResponse,
        Fault::DisconnectMidExchange,
        Fault::NoConnectRecord,
        Fault::CertEidMismatch,
        Fault::TextFrames,
        Fault::NoResponseTopic,
        Fault::WrongContentType,
        Fault::NoReplyToDest,
        Fault::BootWithoutCause,
        Fault::NoTransferComplete,
        Fault::NotifyWhenDisabled,
        Fault::AcceptsBadChecksum,
        Fault::SubscriptionsNotPersistent,
        Fault::ChallengeAcceptsAnything,
        Fault::NoPeriodic,
        Fault::NoObjectCreation,
        Fault::E2eWrongSequence,
        Fault::E2eBadSar,
        Fault::IgnoresSubscribeTopic,
        Fault::NoRequestResponseInformation,
        Fault::MalformedEndpointId,
        Fault::AdvertisementWithoutName,
        Fault::IgnoresPermissions,
        Fault::HiddenParamsReadable,
        Fault::NotifyWithoutPermission,
        Fault::WrongCommandArgs,
        Fault::AnswersSendRespFalse,
        Fault::CancelIgnored,
        Fault::WrongHeartBeatHeader,
        Fault::IgnoresSubscribeDest,
        Fault::WrongCloseCode,
        Fault::RetriesTooEarly,
        Fault::KeepsBothSessions,
        Fault::AdvertWrongInstance,
        Fault::E2eProcessesDuplicates,
        Fault::E2eIgnoresRetransmit,
        Fault::E2eProcessesOutOfOrder,
        Fault::E2eAcceptsMixedSecurity,
        Fault::E2eIgnoresNewSession,
        Fault::E2eNoSessionContext,
        Fault::E2eNeverExpires,
        Fault::E2eIntegrityUnchecked,
        Fault::E2eBadSignature,
        Fault::E2eTlsBadMac,
        Fault::E2eTlsNoMac,
        Fault::E2eTlsAcceptsAnyCertificate,
        Fault::E2eTlsNoClientCertificate,
        Fault::E2eTlsCertificateNamesAnother,
        Fault::E2eTlsRenegotiationClosesSession,
        Fault::E2eSessionRetryImmediately,
        Fault::NoAnnouncementAfterReboot,
        Fault::AnswersOwnEndpointId,
        Fault::AnswersAnyToId,
        Fault::E2eTlsAcceptsExpiredCertificate,
        Fault::E2eNoClockChecksCertificateDates,
        Fault::DhcpNoVendorClass,
        Fault::DhcpIgnoresProvisioningCode,
        Fault::DhcpIgnoresControllerUrl,
        Fault::SecuredRolesIgnored,
        Fault::SecuredShownToAnyone,
        Fault::LocalNameWithoutMdns,
        Fault::AddPermissionAllOrNothing,
        Fault::AddRefusesOmittedUnwritable,
        Fault::UntrustedGetsFullAccess,
        Fault::AddedRoleIgnored,
        Fault::AddedPermissionIgnored,
        Fault::RetriesOutsideWindow,
        Fault::NewClientIdOnReconnect,
        Fault::IgnoresAssignedClientIdentifier,
        Fault::IgnoresKeepAliveTime,
        Fault::IgnoresServerKeepAlive,
        Fault::MqttFixedRetryWhenBrokerDown,
        Fault::MqttStaysWithoutSubscribeTopic,
        Fault::MqttIgnoresNewSubscription,
        Fault::MqttWrongQos,
        Fault::MqttProfileIncomplete,
        Fault::StompRetriesTooEarly,
        Fault::WsCloseUnanswered,
        Fault::StompIgnoresModelDestination,
        Fault::StompNoDisconnectWithoutDestination,
        Fault::StompNoUnsubscribeOnDestinationChange,
        Fault::StompWrongHeartBeat,
        Fault::CoapWrongContentFormat,
        Fault::CoapNoBlockWise,
        Fault::CoapCreatedNotChanged,
        Fault::CoapNoRetransmit,
        Fault::CoapLenientInbox,
        Fault::StompSubscribesBeforeUnsubscribe,
        Fault::StompProfileIncomplete,
        Fault::DropsSessionOnBadRecord,
        Fault::MtpTlsIgnored,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Fault::WrongMsgId => "wrong-msg-id",
            Fault::WrongMsgType => "wrong-msg-type",
            Fault::MissingParameter => "missing-parameter",
            Fault::WrongValueType => "wrong-value-type",
            Fault::WrongErrorCode => "wrong-error-code",
            Fault::MalformedProtobuf => "malformed-protobuf",
            Fault::WrongToId => "wrong-to-id",
            Fault::NoResponse => "no-response",
            Fault::DisconnectMidExchange => "disconnect-mid-exchange",
            Fault::NoConnectRecord => "no-connect-record",
            Fault::CertEidMismatch => "cert-eid-mismatch",
            Fault::TextFrames => "text-frames",
            Fault::NoResponseTopic => "no-response-topic",
            Fault::WrongContentType => "wrong-content-type",
            Fault::NoReplyToDest => "no-reply-to-dest",
            Fault::BootWithoutCause => "boot-without-cause",
            Fault::NoTransferComplete => "no-transfer-complete",
            Fault::NotifyWhenDisabled => "notify-when-disabled",
            Fault::AcceptsBadChecksum => "accepts-bad-checksum",
            Fault::SubscriptionsNotPersistent => "subscriptions-not-persistent",
            Fault::ChallengeAcceptsAnything => "challenge-accepts-anything",
            Fault::NoPeriodic => "no-periodic",
            Fault::NoObjectCreation => "no-object-creation",
            Fault::E2eWrongSequence => "e2e-wrong-sequence",
            Fault::E2eBadSar => "e2e-bad-sar",
            Fault::IgnoresSubscribeTopic => "ignores-subscribe-topic",
            Fault::NoRequestResponseInformation => "no-request-response-information",
            Fault::MalformedEndpointId => "malformed-endpoint-id",
            Fault::AdvertisementWithoutName => "advertisement-without-name",
            Fault::IgnoresPermissions => "ignores-permissions",
            Fault::HiddenParamsReadable => "hidden-params-readable",
            Fault::NotifyWithoutPermission => "notify-without-permission",
            Fault::WrongCommandArgs => "wrong-command-args",
            Fault::AnswersSendRespFalse => "answers-send-resp-false",
            Fault::CancelIgnored => "cancel-ignored",
            Fault::WrongHeartBeatHeader => "wrong-heart-beat-header",
            Fault::IgnoresSubscribeDest => "ignores-subscribe-dest",
            Fault::WrongCloseCode => "wrong-close-code",
            Fault::RetriesTooEarly => "retries-too-early",
            Fault::KeepsBothSessions => "keeps-both-sessions",
            Fault::AdvertWrongInstance => "advert-wrong-instance",
            Fault::E2eProcessesDuplicates => "e2e-processes-duplicates",
            Fault::E2eIgnoresRetransmit => "e2e-ignores-retransmit",
            Fault::E2eProcessesOutOfOrder => "e2e-processes-out-of-order",
            Fault::E2eAcceptsMixedSecurity => "e2e-accepts-mixed-security",
            Fault::E2eIgnoresNewSession => "e2e-ignores-new-session",
            Fault::E2eNoSessionContext => "e2e-no-session-context",
            Fault::E2eNeverExpires => "e2e-never-expires",
            Fault::E2eIntegrityUnchecked => "e2e-integrity-unchecked",
            Fault::E2eBadSignature => "e2e-bad-signature",
            Fault::E2eTlsBadMac => "e2e-tls-bad-mac",
            Fault::E2eTlsNoMac => "e2e-tls-no-mac",
            Fault::E2eTlsAcceptsAnyCertificate => "e2e-tls-accepts-any-certificate",
            Fault::E2eTlsNoClientCertificate => "e2e-tls-no-client-certificate",
            Fault::E2eTlsCertificateNamesAnother => "e2e-tls-certificate-names-another",
            Fault::E2eTlsRenegotiationClosesSession => "e2e-tls-renegotiation-closes-session",
            Fault::E2eSessionRetryImmediately => "e2e-session-retry-immediately",
            Fault::NoAnnouncementAfterReboot => "no-announcement-after-reboot",
            Fault::AnswersOwnEndpointId => "answers-own-endpoint-id",
            Fault::AnswersAnyToId => "answers-any-to-id",
            Fault::E2eTlsAcceptsExpiredCertificate => "e2e-tls-accepts-expired-certificate",
            Fault::E2eNoClockChecksCertificateDates => "e2e-no-clock-checks-certificate-dates",
            Fault::DhcpNoVendorClass => "dhcp-no-vendor-class",
            Fault::DhcpIgnoresProvisioningCode => "dhcp-ignores-provisioning-code",
            Fault::DhcpIgnoresControllerUrl => "dhcp-ignores-controller-url",
            Fault::SecuredRolesIgnored => "secured-roles-ignored",
            Fault::SecuredShownToAnyone => "secured-shown-to-anyone",
            Fault::LocalNameWithoutMdns => "local-name-without-mdns",
            Fault::AddPermissionAllOrNothing => "add-permission-all-or-nothing",
            Fault::AddRefusesOmittedUnwritable => "add-refuses-omitted-unwritable",
            Fault::UntrustedGetsFullAccess => "untrusted-gets-full-access",
            Fault::AddedRoleIgnored => "added-role-ignored",
            Fault::AddedPermissionIgnored => "added-permission-ignored",
            Fault::RetriesOutsideWindow => "retries-outside-window",
            Fault::NewClientIdOnReconnect => "new-client-id-on-reconnect",
            Fault::IgnoresAssignedClientIdentifier => "ignores-assigned-client-identifier",
            Fault::IgnoresKeepAliveTime => "ignores-keep-alive-time",
            Fault::IgnoresServerKeepAlive => "ignores-server-keep-alive",
            Fault::MqttFixedRetryWhenBrokerDown => "mqtt-fixed-retry-when-broker-down",
            Fault::MqttStaysWithoutSubscribeTopic => "mqtt-stays-without-subscribe-topic",
            Fault::MqttIgnoresNewSubscription => "mqtt-ignores-new-subscription",
            Fault::MqttWrongQos => "mqtt-wrong-qos",
            Fault::MqttProfileIncomplete => "mqtt-profile-incomplete",
            Fault::StompRetriesTooEarly => "stomp-retries-too-early",
            Fault::WsCloseUnanswered => "ws-close-unanswered",
            Fault::StompIgnoresModelDestination => "stomp-ignores-model-destination",
            Fault::StompNoDisconnectWithoutDestination => "stomp-no-disconnect-without-destination",
            Fault::StompNoUnsubscribeOnDestinationChange => {
                "stomp-no-unsubscribe-on-destination-change"
            }
            Fault::StompWrongHeartBeat => "stomp-wrong-heart-beat",
            Fault::CoapWrongContentFormat => "coap-wrong-content-format",
            Fault::CoapNoBlockWise => "coap-no-block-wise",
            Fault::CoapCreatedNotChanged => "coap-created-not-changed",
            Fault::CoapNoRetransmit => "coap-no-retransmit",
            Fault::CoapLenientInbox => "coap-lenient-inbox",
            Fault::StompSubscribesBeforeUnsubscribe => "stomp-subscribes-before-unsubscribe",
            Fault::StompProfileIncomplete => "stomp-profile-incomplete",
            Fault::DropsSessionOnBadRecord => "drops-session-on-bad-record",
            Fault::MtpTlsIgnored => "mtp-tls-ignored",
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Fault::WrongMsgId => "responses carry the request's msg_id with \"-x\" appended (breaks R-MSG.9 pairing)",
            Fault::WrongMsgType => "a Get is answered with an empty GetInstancesResp, any other request with an empty GetResp",
            Fault::MissingParameter => "Device.DeviceInfo.Manufacturer is left out of GetResp and GetSupportedDMResp",
            Fault::WrongValueType => "GetResp values of boolean parameters become \"yes\", of integer parameters \"not-a-number\"",
            Fault::WrongErrorCode => "every non-zero error code the Agent sends becomes 7003 (Internal error)",
            Fault::MalformedProtobuf => "the transport sends Record bytes that are not valid protobuf",
            Fault::WrongToId => "the transport addresses Records to a to_id other than the Controller's Endpoint ID",
            Fault::NoResponse => "requests are read but never answered",
            Fault::DisconnectMidExchange => "the transport drops the connection after receiving a request, before answering",
            Fault::NoConnectRecord => "the transport never sends the MTP's Connect Record (breaks R-MTP.6)",
            Fault::CertEidMismatch => "over TLS (--tls), the Agent's certificate names another Endpoint ID than its Records' from_id (breaks R-SEC.10a)",
            Fault::TextFrames => "over WebSocket, every Record goes out in a text frame instead of a binary one (breaks R-WS.14)",
            Fault::NoResponseTopic => "over MQTT, PUBLISHes carry no reply-to: no Response Topic in MQTT 5 (breaks R-MQTT.23), no \"/reply-to=\" in the 3.1.1 topic name (breaks R-MQTT.24)",
            Fault::WrongContentType => "over MQTT 5 or STOMP, Records are sent with content type text/plain (breaks R-MQTT.27 / R-STOMP.20)",
            Fault::NoReplyToDest => "over STOMP, SEND frames carry no reply-to-dest header (breaks R-STOMP.21)",
            Fault::BootWithoutCause => "Device.Boot! carries no Cause argument",
            Fault::NoTransferComplete => "Device.LocalAgent.TransferComplete! is never sent after a Download()",
            Fault::NotifyWhenDisabled => "Subscriptions with Enable false still notify",
            Fault::AcceptsBadChecksum => "a Download() CheckSum mismatch is not detected: the image becomes Available",
            Fault::SubscriptionsNotPersistent => "Persistent Subscriptions are lost at reboot too",
            Fault::ChallengeAcceptsAnything => "ChallengeResponse() answers Status Success to any Value",
            Fault::NoPeriodic => "Device.LocalAgent.Periodic! is never sent",
            Fault::NoObjectCreation => "ObjectCreation notifications are never sent",
            Fault::E2eWrongSequence => "in an E2E session context, the Agent's sequence_ids skip (1, 3, 5, ...) instead of incrementing by 1",
            Fault::E2eBadSar => "in an E2E session context, the last segment of a segmented payload says INPROCESS: COMPLETE never comes",
            Fault::IgnoresSubscribeTopic => "over MQTT 5, the CONNACK User Property subscribe-topic is not subscribed to (breaks R-MQTT.15); seen only through the interposer (--interpose)",
            Fault::NoRequestResponseInformation => "over MQTT 5, CONNECT carries no Request Response Information (breaks R-MQTT.12); seen only through the interposer (--interpose)",
            Fault::AdvertisementWithoutName => "with `plugfest agent --advertise` or `run --discovery`, the DNS-SD TXT record has no `name` key (breaks R-DIS.10)",
            Fault::WrongHeartBeatHeader => "over STOMP, the STOMP frame offers heart-beats in a header named `heartbeat` instead of `heart-beat`, so none are negotiated (breaks R-STOMP.8); seen only through the interposer (--mtp stomp --interpose)",
            Fault::IgnoresSubscribeDest => "over STOMP, the CONNECTED header subscribe-dest is ignored: the Agent subscribes to its configured destination (breaks R-STOMP.6/14); seen only through the interposer (--mtp stomp --interpose)",
            Fault::WrongCloseCode => "over WebSocket, a text frame or an undecodable Record is answered with a Close of status 1007 instead of 1003 (breaks R-WS.16)",
            Fault::RetriesTooEarly => "over WebSocket, the Agent dials again at once after a refused handshake or a dropped session, ignoring its SessionRetryMinimumWaitInterval / SessionRetryIntervalMultiplier back-off (breaks R-WS.20, TP-469 7.8)",
            Fault::KeepsBothSessions => "as a WebSocket server (--role client), the Agent keeps a second session from the same Controller beside the first (breaks R-WS.4)",
            Fault::AdvertWrongInstance => "with `plugfest agent --advertise` or `run --discovery`, the DNS-SD instance name is the Agent's friendly name instead of its Endpoint ID (breaks R-DIS.8)",
            Fault::E2eProcessesDuplicates => "in an E2E session context, a Record whose sequence_id was already received (a duplicate) is carried out again and answered (TP-469 3.15: duplicates are ignored)",
            Fault::E2eIgnoresRetransmit => "in an E2E session context, a Record's retransmit_id is ignored: the Record asked for is never resent (TP-469 3.14)",
            Fault::E2eProcessesOutOfOrder => "in an E2E session context, a Record whose sequence_id is above the one expected is carried out at once instead of held until the gap is filled (TP-469 3.12)",
            Fault::E2eAcceptsMixedSecurity => "in an E2E session context, a Record whose payload_security differs from the context's is carried out (breaks R-E2E.18/19, TP-469 3.13)",
            Fault::E2eIgnoresNewSession => "a SessionContextRecord with a new session_id does not restart the context: it is taken as an old Record of the current one and ignored (breaks R-E2E.6, TP-469 3.9)",
            Fault::E2eNoSessionContext => "the Agent allows no E2E session context: every SessionContextRecord is answered with a DisconnectRecord 7106 (allowed by R-E2E.6a: the E2E cases are skipped, not failed)",
            Fault::E2eNeverExpires => "an E2E session context never expires: Controller.{i}.E2ESession.SessionExpiration is ignored and a Record after a long pause is carried out in the old context (TP-469 3.10)",
            Fault::E2eIntegrityUnchecked => "a Record whose mac_signature does not verify, or whose sender_cert names another Endpoint ID, is carried out instead of dropped (breaks R-E2E.29/30 and R-SEC.0a, TP-469 3.2, 3.3)",
            Fault::E2eBadSignature => "in a context the Controller signs, the Agent's own mac_signature does not verify (one byte of it changed; breaks R-E2E.29/30)",
            Fault::E2eTlsBadMac => "in a TLS12 context, the HMAC mac_signature of the Agent's Records after the handshake does not verify (one byte of it changed; breaks R-E2E.29/30, TP-469 3.4)",
            Fault::E2eTlsNoMac => "in a TLS12 context, the Agent's Records after the handshake carry no mac_signature over an unprotected MTP (breaks R-E2E.29/30, TP-469 3.4)",
            Fault::E2eTlsAcceptsAnyCertificate => "in a TLS12 context, the Agent accepts a Controller certificate naming another Endpoint ID than the Records' from_id (breaks R-SEC.0a, TP-469 3.7)",
            Fault::E2eTlsNoClientCertificate => "in a TLS12 context, the Agent does not ask for the Controller's certificate (no mutual authentication; breaks R-E2E.41, TP-469 3.7)",
            Fault::E2eTlsCertificateNamesAnother => "in a TLS12 context, the Agent's own certificate names another Endpoint ID than its own (breaks R-SEC.0a, TP-469 3.7)",
            Fault::E2eTlsRenegotiationClosesSession => "in a TLS 1.2 context, a renegotiation request (a ClientHello after the handshake) is answered with close_notify and the Agent's TLS session ends, instead of the request being ignored or refused with no_renegotiation(100) (fails TP-469 3.6)",
            Fault::E2eSessionRetryImmediately => "with E2ESession.SessionMode Require and PayloadSecurity TLS, a TLS context the Agent opened that failed is opened again at once, without the SessionRetryMinimumWaitInterval / SessionRetryIntervalMultiplier back-off (fails TP-469 3.5 metric 2)",
            Fault::NoAnnouncementAfterReboot => "the Agent's DNS-SD advertisement is not announced again after a reboot: it only answers queries (fails TP-469 8.5: no unsolicited mDNS response after the reboot)",
            Fault::AnswersOwnEndpointId => "a Record whose from_id is the Agent's own Endpoint ID is processed and answered (breaks R-ARC.2, TP-469 2.1)",
            Fault::AnswersAnyToId => "a Record addressed to another Endpoint ID (to_id) is processed and answered (breaks R-E2E.1, TP-469 2.2)",
            Fault::E2eTlsAcceptsExpiredCertificate => "in a TLS12 context, the Agent (which has absolute time) accepts a Controller certificate whose validity period is over (fails TP-469 2.8)",
            Fault::E2eNoClockChecksCertificateDates => "in a TLS12 context, the Agent booted without absolute time (--without-absolute-time) still judges the Controller certificate's validity dates by its clock and refuses an expired one (fails TP-469 2.6; R-MTP.2/3)",
            Fault::DhcpNoVendorClass => "with `plugfest agent --dhcp IFACE`, the DHCPDISCOVER and DHCPREQUEST carry no option 124 naming USP (breaks R-DIS.1, TP-469 8.1); a server classifying on it then sends no option 125 either",
            Fault::DhcpIgnoresProvisioningCode => "with `plugfest agent --dhcp IFACE`, the ProvisioningCode of option 125 (sub-option 26) is not written to the Controller's row (breaks TP-469 8.2)",
            Fault::DhcpIgnoresControllerUrl => "with `plugfest agent --dhcp IFACE --connect URL`, the Controller URL of option 125 (sub-option 25) is not followed: no DNS query for its name, the configured URL dialed instead (breaks TP-469 8.3)",
            Fault::SecuredRolesIgnored => "a secured parameter (Challenge.{i}.Value) reads as \"\" even for a Controller whose Role is in ControllerTrust.SecuredRoles (breaks TP-469 2.27, metric 2)",
            Fault::SecuredShownToAnyone => "a secured parameter (Challenge.{i}.Value) shows its value to any Controller that may read it, whether or not its Role is in ControllerTrust.SecuredRoles (breaks TR-181 `secured`, TP-469 2.27 metric 1)",
            Fault::LocalNameWithoutMdns => "with `plugfest agent --connect ws://NAME.local:PORT/PATH`, the .local. host is taken as 127.0.0.1 without an mDNS question (as a hosts-file entry would; breaks TP-469 8.4)",
            Fault::AddPermissionAllOrNothing => "an Add any object or parameter of which the sending Controller's Role does not permit is refused as a whole with an Error 7006 naming the requested paths, whatever allow_partial says (breaks TP-469 2.23, 2.24, 2.26: the refused object alone must fail)",
            Fault::AddRefusesOmittedUnwritable => "an Add is refused with 7006 when the object has a writable parameter the Role may not write, even when the Add leaves it out (breaks TP-469 2.25: it keeps its default)",
            Fault::UntrustedGetsFullAccess => "a Controller the Agent has not seen before gets the first Role (full access) in its new Controller.{i}.AssignedRole instead of ControllerTrust.UntrustedRole (breaks TP-469 2.9)",
            Fault::AddedRoleIgnored => "a ControllerTrust.Role.{i} created by Add is kept disabled whatever its Enable says, so assigning it grants nothing (breaks TP-469 2.10)",
            Fault::AddedPermissionIgnored => "a ControllerTrust.Role.{i}.Permission.{i} created by Add is kept disabled whatever its Enable says, so rights granted at run time never take effect, nor do refusals added at run time (breaks TP-469 2.10, 2.15, 2.17, 2.23, 2.24, 2.26)",
            Fault::RetriesOutsideWindow => "over MQTT, after a refused connection the Agent retries after a fixed 100 ms instead of a wait inside its ConnectRetryTime / ConnectRetryIntervalMultiplier window (breaks TP-469 11.16); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::NewClientIdOnReconnect => "over MQTT, a configured ClientID gets a new suffix on every reconnect (-r1, -r2, ...), so the broker sees a new client each time (breaks R-MQTT.8, TP-469 11.5); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::IgnoresAssignedClientIdentifier => "over MQTT 5 with an empty ClientID, the Agent keeps connecting with an empty ClientId instead of the Assigned Client Identifier the broker gave it (breaks R-MQTT.9, TP-469 11.4); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::IgnoresKeepAliveTime => "over MQTT, CONNECT always carries Keep Alive 60 whatever Device.MQTT.Client.{i}.KeepAliveTime says (breaks R-MQTT.14, TP-469 11.7); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::IgnoresServerKeepAlive => "over MQTT 5, a Server Keep Alive in CONNACK is honoured for one PINGREQ only, then the Agent goes back to its own Keep Alive (breaks MQTT 5 §3.2.2.3.14 via R-MQTT.14, TP-469 11.7); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::MqttFixedRetryWhenBrokerDown => "over MQTT, when the broker is down (the connection closes without a CONNACK) the Agent retries after a fixed 100 ms; only a refusing CONNACK gets the ConnectRetryTime / ConnectRetryIntervalMultiplier back-off (breaks R-MQTT.10, TP-469 11.6); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::MqttStaysWithoutSubscribeTopic => "over MQTT 5, with no Device.MQTT.Client.{i}.Subscription row and no CONNACK subscribe-topic the Agent stays connected on its reply-to topic instead of sending DISCONNECT (breaks R-MQTT.16, TP-469 11.10); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::MqttIgnoresNewSubscription => "over MQTT, a Device.MQTT.Client.{i}.Subscription row added or disabled while connected is not acted upon (no SUBSCRIBE, no UNSUBSCRIBE) until the next connection (breaks R-MQTT.15 / R-MQTT.34, TP-469 11.9); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::MqttWrongQos => "over MQTT, every Device.MQTT.Client.{i}.Subscription row is subscribed at QoS 0 whatever its QoS says (breaks TR-181 Subscription.{i}.QoS and R-MQTT.20, TP-469 11.13); seen only through the interposer (--mtp mqtt --interpose)",
            Fault::MqttProfileIncomplete => "GetSupportedDMResp leaves out Device.MQTT.Client.{i}.Subscription.{i}. (MQTTClientSubscribe:1; breaks R-MQTT.4, TP-469 11.1)",
            Fault::StompRetriesTooEarly => "over STOMP, after a refused connection the Agent retries after a fixed 100 ms instead of a wait inside its ServerRetryInitialInterval / ServerRetryIntervalMultiplier window (breaks R-STOMP.25, TP-469 6.3); seen only through the interposer (--mtp stomp --interpose)",
            Fault::WsCloseUnanswered => "over WebSocket, a Close frame from the Controller is not answered: the Agent drops the TCP connection without sending its own Close (breaks RFC 6455 5.5.1, TP-469 7.4); seen with --mtp ws --role server",
            Fault::StompIgnoresModelDestination => "over STOMP, Device.LocalAgent.MTP.{i}.STOMP.Destination is ignored: the Agent keeps subscribing to the destination it started with, and a Set of it changes nothing (breaks R-STOMP.15/29, TP-469 6.6 and 6.10); seen only through the interposer (--mtp stomp --interpose)",
            Fault::StompNoDisconnectWithoutDestination => "over STOMP, when CONNECTED names no subscribe-dest and no destination is configured, the Agent stays connected without a subscription instead of sending DISCONNECT (breaks R-STOMP.16, TP-469 6.7); seen only through the interposer (--mtp stomp --interpose)",
            Fault::StompNoUnsubscribeOnDestinationChange => "over STOMP, when its configured destination changes the Agent SUBSCRIBEs to the new one without UNSUBSCRIBEing the old one (breaks R-STOMP.29, TP-469 6.10); seen only through the interposer (--mtp stomp --interpose)",
            Fault::StompWrongHeartBeat => "over STOMP, the STOMP frame's heart-beat header keeps the values the Agent started with (2000,10000) whatever Device.STOMP.Connection.{i}.OutgoingHeartbeat / IncomingHeartbeat say (breaks R-STOMP.8/9, TP-469 6.8); seen only through the interposer (--mtp stomp --interpose)",
            Fault::CoapWrongContentFormat => "over CoAP, the Agent POSTs its Records with Content-Format 0 (text/plain) instead of 42, application/octet-stream (breaks the USP CoAP binding, TP-469 5.1); --mtp coap",
            Fault::CoapNoBlockWise => "over CoAP, the Agent sends a Record in one message however large, never block-wise (breaks RFC 7959 use in the USP CoAP binding, TP-469 5.2); --mtp coap",
            Fault::CoapCreatedNotChanged => "over CoAP, the Agent answers a POSTed Record with 2.01 Created instead of 2.04 Changed (breaks the USP CoAP binding, TP-469 5.3); --mtp coap",
            Fault::CoapNoRetransmit => "over CoAP, the Agent never sends a Confirmable POST again when no answer comes (MAX_RETRANSMIT 0; breaks RFC 7252 4.2, TP-469 5.4); --mtp coap",
            Fault::CoapLenientInbox => "over CoAP, the Agent takes any method and any Content-Format and answers 2.04 Changed to a body that is no USP Record (breaks the USP CoAP binding: 4.05, 4.15 and 4.00 are due; TP-469 5.5, 5.6, 5.7); --mtp coap",
            Fault::StompSubscribesBeforeUnsubscribe => "over STOMP, when its Destination changes the Agent SUBSCRIBEs the new destination first and UNSUBSCRIBEs the old one after (TP-469 6.10 asks UNSUBSCRIBE, then SUBSCRIBE); seen only through the interposer (--mtp stomp --interpose)",
            Fault::StompProfileIncomplete => "GetSupportedDMResp leaves out Device.LocalAgent.Controller.{i}.MTP.{i}.STOMP. (STOMPController:1; TP-469 6.1)",
            Fault::DropsSessionOnBadRecord => "over MQTT, STOMP and UDS, a Record that cannot be decoded ends the Agent's MTP session: it disconnects from the broker (and connects again, with a new Connect Record), or over UDS closes the socket without an Error TLV (breaks R-MTP.5: ignore it or answer with a Record Error; TP-469 3.1, 6.9); refused over WebSocket, where Close 1003 is the binding's answer (R-WS.16)",
            Fault::MtpTlsIgnored => "the Agent's MTP client connects in plaintext although its configuration says TLS (the Controller's wss:// URL, MQTT TLS, STOMP EnableEncryption; breaks R-MTP.0 / R-WS.22 / R-MQTT.48 / R-STOMP.36, TP-469 4.1, 7.9, 11.3, 6.11); seen by a listener that expects TLS: --tls with --mtp ws --role server, or --mtp mqtt/stomp --interpose",
            Fault::MalformedEndpointId => "the Agent's Records (and, as `plugfest agent`, its handshake) carry an Endpoint ID whose instance-id is longer than 50 characters (breaks R-ARC.6)",
            Fault::IgnoresPermissions => "Set, Add, Delete and Operate are carried out whatever the sending Controller's Role permits (a read-only Controller can Set: no 7006)",
            Fault::HiddenParamsReadable => "Get, GetInstances and GetSupportedDM show a Controller what its Role gives it no read permission on (e.g. the read-only Controller sees Device.DeviceInfo.SerialNumber)",
            Fault::NotifyWithoutPermission => "Notifys go to a subscribed Controller even where its Role grants no notify (n) permission",
            Fault::WrongCommandArgs => "GetSupportedDMResp lists FirmwareImage.{i}.Download()'s input argument URL as \"Url\" and Device.Boot!'s argument Cause as \"Reason\" (breaks TP-469 1.97 / 1.98)",
            Fault::AnswersSendRespFalse => "an Operate with send_resp false is answered with an OperateResp anyway (breaks R-OPR.1, TP-469 1.62 / 1.65)",
            Fault::CancelIgnored => "Device.LocalAgent.Request.{i}.Cancel() is answered but does nothing: the operation runs on, no OperationComplete with 7023 (breaks TP-469 9.8)",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The Endpoint ID the `malformed-endpoint-id` fault presents instead of
/// `eid`: the same id with its instance-id padded past the 50 characters
/// R-ARC.6 allows. Only unreserved characters are added, so every MTP can
/// still carry it (topics, STOMP headers, the WebSocket `eid` query).
pub fn malformed_endpoint_id(eid: &str) -> String {
    format!("{eid}-{}", "x".repeat(51))
}

/// A fault name that is not one of `Fault::ALL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault \"{given}\"; valid faults: {}", valid_names())]
pub struct UnknownFault {
    pub given: String,
}

fn valid_names() -> String {
    Fault::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s.trim())
            .ok_or_else(|| UnknownFault {
                given: s.to_string(),
            })
    }
}

/// The faults an Agent is configured with (empty = a well-behaved Agent).
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct FaultSet(BTreeSet<Fault>);

impl FaultSet {
    pub fn new() -> FaultSet {
        FaultSet::default()
    }

    pub fn contains(&self, fault: Fault) -> bool {
        self.0.contains(&fault)
    }

    pub fn insert(&mut self, fault: Fault) -> bool {
        self.0.insert(fault)
    }

    pub fn iter(&self) -> impl Iterator<Item = Fault> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Fault> for FaultSet {
    fn from_iter<I: IntoIterator<Item = Fault>>(iter: I) -> FaultSet {
        FaultSet(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_lists_valid_names() {
        for f in Fault::ALL {
            assert_eq!(f.name().parse::<Fault>(), Ok(f));
            assert!(!f.description().is_empty());
        }
        let err = "wrong-id".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("wrong-id") && err.contains("disconnect-mid-exchange"));
    }

    #[test]
    fn fault_set_membership() {
        let mut set = FaultSet::default();
        assert!(set.is_empty());
        set.insert(Fault::NoResponse);
        assert!(set.contains(Fault::NoResponse) && !set.contains(Fault::WrongToId));
        assert_eq!(set.iter().count(), 1);
    }
}
