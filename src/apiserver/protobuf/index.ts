/**
 * Kubernetes protobuf support for the API server: decoding the request bodies
 * that kubectl's typed clients send as application/vnd.kubernetes.protobuf, and
 * encoding the protobuf OpenAPI v2 document kubectl's validation asks for.
 */
export { decodeKubeProtobuf, isKubeProtobuf, KUBE_PROTOBUF, ProtobufError } from './decode.js';
export { OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_RESPONSE, openapiV2Document } from './openapi-v2.js';
