// getsockopt(SO_ORIGINAL_DST) for Node: the address a connection was sent to
// before an iptables REDIRECT/DNAT rewrote it (what the sidecar's capture needs).
// Takes a socket fd, returns [address, port] or null when there is no NAT record.

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "originalDst(fd): fd must be a non-negative integer");
    return NULL;
  }
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  memset(&addr, 0, sizeof(addr));
  napi_value result;
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) {
    napi_get_null(env, &result);
    return result;
  }
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  napi_value ip, port;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &ip);
  napi_create_uint32(env, ntohs(addr.sin_port), &port);
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, ip);
  napi_set_element(env, result, 1, port);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
