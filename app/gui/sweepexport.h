#pragma once
// `attnscope --export SWEEP.h5 --figure retrieval|needle-heads|sweep-curve|sweep-loss --out F`: the sweep
// views rendered offscreen with the window's widgets and written without showing anything.

#include <QString>

namespace attnscope::gui {

struct HeadlessExportOptions;

/// Whether a figure name is one of the sweep figures.
bool isSweepFigure(const QString& figure);

/// Writes a sweep figure; returns a process exit code (0 ok, 1 with one line on stderr for what cannot be
/// drawn: a file that is no sweep, a figure the sweep's mode has no data for, a length, layer, head or
/// statistic the sweep does not hold).
int runSweepExport(const HeadlessExportOptions& options);

}  // namespace attnscope::gui
