//! Building and classifying USP Msgs. Requests and responses are plain prost
//! structs; these helpers wrap a request/response body into a Msg with the
//! header the spec pairs with it, and name what a received Msg is.

use super::proto::msg::{
    body::MsgBody, header::MsgType, request::ReqType, response::RespType, Body, Error, Header, Msg,
    Request, Response,
};

/// The header MsgType that goes with a request body (R-MSG.10: the body is
/// authoritative, but a well-formed Msg keeps the two in agreement).
pub fn request_msg_type(req: &ReqType) -> MsgType {
    match req {
        ReqType::Get(_) => MsgType::Get,
        ReqType::GetSupportedDm(_) => MsgType::GetSupportedDm,
        ReqType::GetInstances(_) => MsgType::GetInstances,
        ReqType::Set(_) => MsgType::Set,
        ReqType::Add(_) => MsgType::Add,
        ReqType::Delete(_) => MsgType::Delete,
        ReqType::Operate(_) => MsgType::Operate,
        ReqType::Notify(_) => MsgType::Notify,
        ReqType::GetSupportedProtocol(_) => MsgType::GetSupportedProto,
        ReqType::Register(_) => MsgType::Register,
        ReqType::Deregister(_) => MsgType::Deregister,
    }
}

/// The header MsgType that goes with a response body.
pub fn response_msg_type(resp: &RespType) -> MsgType {
    match resp {
        RespType::GetResp(_) => MsgType::GetResp,
        RespType::GetSupportedDmResp(_) => MsgType::GetSupportedDmResp,
        RespType::GetInstancesResp(_) => MsgType::GetInstancesResp,
        RespType::SetResp(_) => MsgType::SetResp,
        RespType::AddResp(_) => MsgType::AddResp,
        RespType::DeleteResp(_) => MsgType::DeleteResp,
        RespType::OperateResp(_) => MsgType::OperateResp,
        RespType::NotifyResp(_) => MsgType::NotifyResp,
        RespType::GetSupportedProtocolResp(_) => MsgType::GetSupportedProtoResp,
        RespType::RegisterResp(_) => MsgType::RegisterResp,
        RespType::DeregisterResp(_) => MsgType::DeregisterResp,
    }
}

/// The response MsgType a request expects back.
pub fn expected_response_type(req: MsgType) -> Option<MsgType> {
    Some(match req {
        MsgType::Get => MsgType::GetResp,
        MsgType::GetSupportedDm => MsgType::GetSupportedDmResp,
        MsgType::GetInstances => MsgType::GetInstancesResp,
        MsgType::Set => MsgType::SetResp,
        MsgType::Add => MsgType::AddResp,
        MsgType::Delete => MsgType::DeleteResp,
        MsgType::Operate => MsgType::OperateResp,
        MsgType::Notify => MsgType::NotifyResp,
        MsgType::GetSupportedProto => MsgType::GetSupportedProtoResp,
        MsgType::Register => MsgType::RegisterResp,
        MsgType::Deregister => MsgType::DeregisterResp,
        _ => return None,
    })
}

pub fn request(msg_id: impl Into<String>, req: ReqType) -> Msg {
    Msg {
        header: Some(Header {
            msg_id: msg_id.into(),
            msg_type: request_msg_type(&req) as i32,
        }),
        body: Some(Body {
            msg_body: Some(MsgBody::Request(Request {
                req_type: Some(req),
            })),
        }),
    }
}

pub fn response(msg_id: impl Into<String>, resp: RespType) -> Msg {
    Msg {
        header: Some(Header {
            msg_id: msg_id.into(),
            msg_type: response_msg_type(&resp) as i32,
        }),
        body: Some(Body {
            msg_body: Some(MsgBody::Response(Response {
                resp_type: Some(resp),
            })),
        }),
    }
}

pub fn error(msg_id: impl Into<String>, err: Error) -> Msg {
    Msg {
        header: Some(Header {
            msg_id: msg_id.into(),
            msg_type: MsgType::Error as i32,
        }),
        body: Some(Body {
            msg_body: Some(MsgBody::Error(err)),
        }),
    }
}

pub fn msg_id(msg: &Msg) -> &str {
    msg.header.as_ref().map(|h| h.msg_id.as_str()).unwrap_or("")
}

/// What the body says this Msg is (the body wins over the header, R-MSG.10);
/// `None` when the body or its oneof is missing.
pub fn body_type(msg: &Msg) -> Option<MsgType> {
    match msg.body.as_ref()?.msg_body.as_ref()? {
        MsgBody::Request(r) => r.req_type.as_ref().map(request_msg_type),
        MsgBody::Response(r) => r.resp_type.as_ref().map(response_msg_type),
        MsgBody::Error(_) => Some(MsgType::Error),
    }
}

/// The type named in the header, if it is a known enum value.
pub fn header_type(msg: &Msg) -> Option<MsgType> {
    MsgType::try_from(msg.header.as_ref()?.msg_type).ok()
}

pub fn request_body(msg: &Msg) -> Option<&ReqType> {
    match msg.body.as_ref()?.msg_body.as_ref()? {
        MsgBody::Request(r) => r.req_type.as_ref(),
        _ => None,
    }
}

pub fn response_body(msg: &Msg) -> Option<&RespType> {
    match msg.body.as_ref()?.msg_body.as_ref()? {
        MsgBody::Response(r) => r.resp_type.as_ref(),
        _ => None,
    }
}

pub fn error_body(msg: &Msg) -> Option<&Error> {
    match msg.body.as_ref()?.msg_body.as_ref()? {
        MsgBody::Error(e) => Some(e),
        _ => None,
    }
}

/// `GET_RESP`, `ERROR`, ...: the proto enum name, as people read it in the spec.
pub fn type_name(t: MsgType) -> &'static str {
    t.as_str_name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usp::proto::msg::{Get, GetResp};

    #[test]
    fn request_header_matches_body() {
        let m = request("1", ReqType::Get(Get::default()));
        assert_eq!(header_type(&m), Some(MsgType::Get));
        assert_eq!(body_type(&m), Some(MsgType::Get));
        assert_eq!(msg_id(&m), "1");
    }

    #[test]
    fn body_type_wins_and_missing_body_is_none() {
        let mut m = response("7", RespType::GetResp(GetResp::default()));
        m.header.as_mut().unwrap().msg_type = MsgType::SetResp as i32;
        assert_eq!(body_type(&m), Some(MsgType::GetResp));
        m.body = None;
        assert_eq!(body_type(&m), None);
    }

    #[test]
    fn every_request_has_a_response_type() {
        assert_eq!(expected_response_type(MsgType::Get), Some(MsgType::GetResp));
        assert_eq!(expected_response_type(MsgType::GetResp), None);
    }
}
