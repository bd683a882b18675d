#pragma once
// The prompt as running text, each token shaded by the attention it receives from the selected query (the
// query's row of the level-0 map). Thousands of tokens: layout is computed once per width, painting touches
// only the visible lines. Click a token to make it the query.

#include <QAbstractScrollArea>

class QLabel;

#include <vector>

#include "jobtracker.h"
#include "plotexport.h"

namespace attnscope::widgets {

class CaptureDocument;
struct Selection;

class TokensView : public QAbstractScrollArea, public ExportSource {
  Q_OBJECT
 public:
  explicit TokensView(CaptureDocument* document, QWidget* parent = nullptr);

  /// Attention of the selected query to each key ([T]; empty when the head has no stored map).
  const std::vector<float>& weights() const { return m_weights; }
  /// The token under a viewport position, or -1.
  int tokenAt(const QPoint& position) const;
  /// A token's rectangle in viewport coordinates.
  QRect tokenRect(int token) const;
  QSize sizeHint() const override { return {600, 200}; }

  QString exportName() const override { return QStringLiteral("tokens"); }
  /// Every token, wrapped and paged (tokensfigure.h), with the caption as title and a colour legend.
  std::unique_ptr<Figure> exportFigure() const override;
  QWidget* exportWidget() const override { return const_cast<TokensView*>(this); }
  CsvTable exportTable() const override;

 Q_SIGNALS:
  /// The weights of the current selection are shown (or there are none to show).
  void contentReady();

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  bool viewportEvent(QEvent* event) override;

 private:
  void onSelectionChanged(const Selection& selection);
  /// Reads the document's tokens as running text.
  void readText();
  void relayout();
  void reloadWeights();
  void ensureVisible(int token);
  QString caption() const;
  /// What the tokens show: the query, run, layer and head (the caption without the hint; the export's title).
  QString title() const;
  /// Updates the caption and repaints the text.
  void refresh();

  CaptureDocument* m_document;
  QStringList m_text;          // running tokens (tokensfigure.h)
  std::vector<QRect> m_rects;  // per token, in content coordinates, sorted by line
  std::vector<float> m_weights;
  float m_maxWeight = 0;
  int m_contentHeight = 0;
  QString m_rowKey;   // run/layer/head/query the weights belong to
  QString m_note;     // why there are no weights
  QLabel* m_caption;  // above the viewport, so it stays while the text scrolls
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
