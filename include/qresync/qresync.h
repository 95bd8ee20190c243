/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file qresync.h
 * @brief Umbrella header: include this one to use libqresync.
 *
 * libqresync is an IMAP client library built for synchronizers: sessions
 * over TCP, TLS or tunnels, and stateful QRESYNC diffing. Link it with
 * `pkg-config --cflags --libs libqresync`.
 */
#ifndef QRESYNC_QRESYNC_H
#define QRESYNC_QRESYNC_H

#include <qresync/common.h>
#include <qresync/auth.h>
#include <qresync/buf.h>
#include <qresync/cmd.h>
#include <qresync/commands.h>
#include <qresync/conn.h>
#include <qresync/error.h>
#include <qresync/log.h>
#include <qresync/loop.h>
#include <qresync/mbox.h>
#include <qresync/pull.h>
#include <qresync/relay.h>
#include <qresync/resp.h>
#include <qresync/session.h>
#include <qresync/smtp.h>
#include <qresync/sync.h>
#include <qresync/uidset.h>
#include <qresync/version.h>

#endif /* QRESYNC_QRESYNC_H */
