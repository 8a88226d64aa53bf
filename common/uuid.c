/* SPDX-License-Identifier: MIT */
/* Reproducible identifiers: HMAC-SHA256(seed, token), as systemd-repart does. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common.h"

static void derive(const char *seed, const char *token, uint8_t out[32])
{
        unsigned len = 32;

        if (!HMAC(EVP_sha256(), seed, (int) strlen(seed), (const unsigned char *) token,
                  strlen(token), out, &len))
                memset(out, 0, 32);     /* HMAC cannot fail for SHA-256 short of OOM */
}

void xova_derive_uuid(const char *seed, const char *token, uint8_t ret[16])
{
        uint8_t h[32];

        derive(seed, token, h);
        memcpy(ret, h, 16);
        ret[6] = (ret[6] & 0x0f) | 0x40;        /* version 4 */
        ret[8] = (ret[8] & 0x3f) | 0x80;        /* RFC 4122 variant */
}

uint32_t xova_derive_u32(const char *seed, const char *token)
{
        uint8_t h[32];

        derive(seed, token, h);
        return (uint32_t) h[0] << 24 | (uint32_t) h[1] << 16 | (uint32_t) h[2] << 8 | h[3];
}

const char *xova_uuid_format(const uint8_t u[16], char buf[37])
{
        snprintf(buf, 37,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                 u[12], u[13], u[14], u[15]);
        return buf;
}
