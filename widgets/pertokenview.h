#pragma once
// The per-token table of the selected run, layer and head (pertokenmodel.h): sortable, linked to the
// document's selection both ways (a clicked row becomes the query; a query chosen elsewhere is scrolled to),
// Ctrl+C copies the selected rows as TSV. Statistics are read per head off the GUI thread.

#include <QWidget>

#include "jobtracker.h"

class QLabel;
class QSortFilterProxyModel;
class QTableView;

namespace attnscope::widgets {

class CaptureDocument;
class PerTokenModel;
struct Selection;

class PerTokenView : public QWidget {
  Q_OBJECT
 public:
  explicit PerTokenView(CaptureDocument* document, QWidget* parent = nullptr);

  PerTokenModel* model() const { return m_model; }
  QSortFilterProxyModel* proxy() const { return m_proxy; }
  QTableView* table() const { return m_table; }
  /// The selected rows (source rows, in view order) as TSV with a header (perTokenTsv).
  QString selectedTsv() const;
  /// Copies selectedTsv() to the clipboard.
  void copySelection() const;

 Q_SIGNALS:
  /// The table of the current head is shown (or there is none to show).
  void contentReady();

 private:
  void onSelectionChanged(const Selection& selection);
  void reload();
  /// Selects and scrolls to the query's row without feeding the selection back to the document.
  void showQuery(int query);

  CaptureDocument* m_document;
  PerTokenModel* m_model;
  QSortFilterProxyModel* m_proxy;
  QTableView* m_table;
  QLabel* m_caption;
  QString m_headKey;  // run/layer/head the table belongs to
  bool m_syncing = false;
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
