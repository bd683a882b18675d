#pragma once
// The prompt as running text, each token shaded on the chosen colour map (savedColorMap) by the attention it
// receives from the selected query (the query's row of the level-0 map), or, in key mode (CircuitsVis's
// source/destination toggle), by the attention it gives as a query to the chosen key (the map's column).
// Thousands of tokens: layout is computed once per width, painting touches only the visible lines. Click a
// token to make it the query (or the key). A find field (Ctrl+F) searches the decoded text across token
// boundaries; the run's target ranges are underlined.

#include <QAbstractScrollArea>

class QLabel;
class QLineEdit;
class QToolButton;

#include <vector>

#include "jobtracker.h"
#include "plotexport.h"
#include "tokensearch.h"

namespace attnscope::widgets {

class CaptureDocument;
struct Selection;

class TokensView : public QAbstractScrollArea, public ExportSource {
  Q_OBJECT
 public:
  explicit TokensView(CaptureDocument* document, QWidget* parent = nullptr);

  /// What the shades show: the query's attention to each key (its row), or each query's attention to the key
  /// (the map's column).
  enum class Mode { Query, Key };
  Mode mode() const { return m_mode; }
  void setMode(Mode mode);
  /// The key of key mode: the last key chosen (here or by a click on the heatmap), else the selected query
  /// when key mode starts.
  int key() const { return m_key; }
  /// Chooses the key of key mode (clicking a token in key mode, or a heatmap cell, does this).
  void setKey(int key);
  /// Searches the decoded text for needle (across token boundaries) and selects the first match's query.
  void find(const QString& needle);
  /// Moves to the next (or previous) match, wrapping, and makes its first token the query.
  void findNext(bool backwards = false);
  const std::vector<TokenMatch>& matches() const { return m_matches; }
  /// The index in matches() of the current match, or -1.
  int currentMatch() const { return m_currentMatch; }
  QLineEdit* findField() const { return m_find; }
  /// Whether a token lies in one of the run's target (--targets) ranges, drawn underlined.
  bool isTarget(int token) const {
    return token >= 0 && token < static_cast<int>(m_inTarget.size()) &&
           m_inTarget[static_cast<std::size_t>(token)];
  }
  QToolButton* keyModeButton() const { return m_keyMode; }

  /// Query mode: attention of the selected query to each key; key mode: attention of each query to the key
  /// ([T], zero for queries before the key; empty when the head has no stored map).
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
  /// Key mode chose a key (also when key mode starts).
  void keyChanged(int key);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  bool viewportEvent(QEvent* event) override;
  /// Enter and Shift+Enter in the find field step through the matches; Escape leaves it.
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void onSelectionChanged(const Selection& selection);
  /// Reads the document's tokens as running text.
  void readText();
  void relayout();
  void reloadWeights();
  /// Marks the run's target ranges (m_inTarget).
  void readTargets();
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
  QLineEdit* m_find;
  QToolButton* m_keyMode;
  Mode m_mode = Mode::Query;
  int m_key = 0;
  bool m_keyChosen = false;  // a key was chosen since the file opened: key mode starts on it
  std::vector<TokenMatch> m_matches;
  int m_currentMatch = -1;
  std::vector<char> m_inMatch;   // [T]: the token belongs to a match
  std::vector<char> m_inTarget;  // [T]: the token lies in one of the run's --targets ranges
  JobTracker m_jobs{this};
};

}  // namespace attnscope::widgets
