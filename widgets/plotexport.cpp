#include "plotexport.h"

#include <QFile>
#include <QFileInfo>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QPixmap>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>
#include <QWidget>
#include <QtMath>

#include <qcustomplot.h>

#include <algorithm>

namespace attnscope::widgets {
namespace {

/// Points an SVG generator at path: its size, a matching view box, and the file's name as its title.
void describeSvg(QSvgGenerator& generator, const QString& path, const QSize& size) {
  generator.setFileName(path);
  generator.setSize(size);
  generator.setViewBox(QRect(QPoint(0, 0), size));
  generator.setTitle(QFileInfo(path).completeBaseName());
  generator.setDescription(QStringLiteral("attnscope figure"));
}

QString csvField(const QString& field) {
  if (!field.contains(QLatin1Char(',')) && !field.contains(QLatin1Char('"')) &&
      !field.contains(QLatin1Char('\n')))
    return field;
  QString quoted = field;
  quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
  return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QSize outputSize(const QWidget* widget, const ExportOptions& options) {
  return {options.width > 0 ? options.width : widget->width(),
          options.height > 0 ? options.height : widget->height()};
}

bool failed(QString* error, const QString& message) {
  if (error) *error = message;
  return false;
}

constexpr double kMaxPngPixels = 400e6;  // 1.6 GB as ARGB: a tall tokens figure must not exhaust memory

}  // namespace

ExportFormat exportFormatForPath(const QString& path) {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return ExportFormat::Png;
  if (suffix == QLatin1String("pdf")) return ExportFormat::Pdf;
  if (suffix == QLatin1String("svg")) return ExportFormat::Svg;
  if (suffix == QLatin1String("csv")) return ExportFormat::Csv;
  return ExportFormat::Unknown;
}

bool exportPlot(QCustomPlot* plot, const QString& path, const ExportOptions& options, QString* error) {
  const QSize size = outputSize(plot, options);
  bool ok = false;
  switch (exportFormatForPath(path)) {
    case ExportFormat::Png:
      ok = plot->savePng(path, size.width(), size.height(), options.scale, -1, options.dpi,
                         QCP::ruDotsPerInch);
      break;
    case ExportFormat::Pdf:
      ok = plot->savePdf(path, size.width(), size.height(), QCP::epNoCosmetic, QStringLiteral("attnscope"),
                         QFileInfo(path).completeBaseName());
      break;
    case ExportFormat::Svg: {
      QSvgGenerator generator;
      describeSvg(generator, path, size);
      QCPPainter painter;
      if (!painter.begin(&generator)) return failed(error, QObject::tr("cannot write %1").arg(path));
      painter.setMode(QCPPainter::pmVectorized);
      painter.setMode(QCPPainter::pmNoCaching);
      plot->toPainter(&painter, size.width(), size.height());
      ok = painter.end();
      break;
    }
    default:
      return failed(error, QObject::tr("unknown figure format: %1 (use .png, .pdf or .svg)").arg(path));
  }
  return ok || failed(error, QObject::tr("cannot write %1").arg(path));
}

bool exportWidget(QWidget* widget, const QString& path, const ExportOptions& options, QString* error) {
  const QSize size = widget->size();
  switch (exportFormatForPath(path)) {
    case ExportFormat::Png: {
      QPixmap pixmap(size * options.scale);
      pixmap.setDevicePixelRatio(options.scale);
      pixmap.fill(Qt::white);
      widget->render(&pixmap);
      QImage image = pixmap.toImage();
      const int dots_per_meter = qRound(options.dpi / 0.0254);
      image.setDotsPerMeterX(dots_per_meter);
      image.setDotsPerMeterY(dots_per_meter);
      return image.save(path, "PNG") || failed(error, QObject::tr("cannot write %1").arg(path));
    }
    case ExportFormat::Pdf: {
      QPdfWriter writer(path);
      writer.setCreator(QStringLiteral("attnscope"));
      writer.setPageSize(QPageSize(QSizeF(size), QPageSize::Point));
      writer.setPageMargins(QMarginsF(0, 0, 0, 0));
      writer.setResolution(72);  // one point per widget pixel
      QPainter painter;
      if (!painter.begin(&writer)) return failed(error, QObject::tr("cannot write %1").arg(path));
      widget->render(&painter);
      return painter.end() || failed(error, QObject::tr("cannot write %1").arg(path));
    }
    case ExportFormat::Svg: {
      QSvgGenerator generator;
      generator.setFileName(path);
      generator.setSize(size);
      generator.setViewBox(QRect(QPoint(0, 0), size));
      QPainter painter;
      if (!painter.begin(&generator)) return failed(error, QObject::tr("cannot write %1").arg(path));
      widget->render(&painter);
      return painter.end() || failed(error, QObject::tr("cannot write %1").arg(path));
    }
    default:
      return failed(error, QObject::tr("unknown figure format: %1 (use .png, .pdf or .svg)").arg(path));
  }
}

bool exportFigure(Figure& figure, const QString& path, const ExportOptions& options, QString* error) {
  const QSize page(std::max(100, options.width > 0 ? options.width : 900),
                   std::max(100, options.height > 0 ? options.height : 600));
  const ExportFormat format = exportFormatForPath(path);
  const int n_pages = figure.layout(page, format != ExportFormat::Pdf);
  const QSize size = figure.pageSize();
  const QString cannotWrite = QObject::tr("cannot write %1").arg(path);
  switch (format) {
    case ExportFormat::Png: {
      const double scale = std::clamp(options.scale, 0.1, 16.0);
      if (double(size.width()) * size.height() * scale * scale > kMaxPngPixels)
        return failed(error, QObject::tr("a %1 × %2 PNG at %3× is too large; export PDF (one page per "
                                         "screenful) or a smaller scale")
                                 .arg(size.width())
                                 .arg(size.height())
                                 .arg(scale));
      QImage image(QSize(qCeil(size.width() * scale), qCeil(size.height() * scale)),
                   QImage::Format_ARGB32_Premultiplied);
      if (image.isNull()) return failed(error, cannotWrite);
      image.setDevicePixelRatio(scale);
      image.fill(Qt::white);
      QCPPainter painter(&image);
      painter.setRenderHint(QPainter::Antialiasing);
      painter.setRenderHint(QPainter::TextAntialiasing);
      figure.paintPage(painter, 0);
      painter.end();
      const int dots_per_meter = qRound(options.dpi / 0.0254);
      image.setDotsPerMeterX(dots_per_meter);
      image.setDotsPerMeterY(dots_per_meter);
      return image.save(path, "PNG") || failed(error, cannotWrite);
    }
    case ExportFormat::Pdf: {
      QPdfWriter writer(path);
      writer.setCreator(QStringLiteral("attnscope"));
      writer.setTitle(QFileInfo(path).completeBaseName());
      writer.setPageSize(QPageSize(QSizeF(size), QPageSize::Point));
      writer.setPageMargins(QMarginsF(0, 0, 0, 0));
      writer.setResolution(72);  // one point per layout pixel
      QCPPainter painter;
      if (!painter.begin(&writer)) return failed(error, cannotWrite);
      painter.setMode(QCPPainter::pmVectorized);
      painter.setMode(QCPPainter::pmNoCaching);
      painter.setMode(QCPPainter::pmNonCosmetic);
      for (int i = 0; i < n_pages; ++i) {
        if (i > 0 && !writer.newPage()) return failed(error, cannotWrite);
        figure.paintPage(painter, i);
      }
      return painter.end() || failed(error, cannotWrite);
    }
    case ExportFormat::Svg: {
      QSvgGenerator generator;
      describeSvg(generator, path, size);
      QCPPainter painter;
      if (!painter.begin(&generator)) return failed(error, cannotWrite);
      painter.setMode(QCPPainter::pmVectorized);
      painter.setMode(QCPPainter::pmNoCaching);
      figure.paintPage(painter, 0);
      return painter.end() || failed(error, cannotWrite);
    }
    default:
      return failed(error, QObject::tr("unknown figure format: %1 (use .png, .pdf or .svg)").arg(path));
  }
}

bool writeCsv(const CsvTable& table, const QString& path, QString* error) {
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
    return failed(error, QObject::tr("cannot write %1: %2").arg(path, file.errorString()));
  QTextStream out(&file);
  const auto writeRow = [&out](const QStringList& row) {
    QStringList fields;
    for (const QString& field : row) fields << csvField(field);
    out << fields.join(QLatin1Char(',')) << '\n';
  };
  writeRow(table.header);
  for (const QStringList& row : table.rows) writeRow(row);
  out.flush();
  return file.commit() || failed(error, QObject::tr("cannot write %1: %2").arg(path, file.errorString()));
}

bool exportSource(const ExportSource& source, const QString& path, const ExportOptions& options,
                  QString* error) {
  if (exportFormatForPath(path) == ExportFormat::Csv) {
    const CsvTable table = source.exportTable();
    if (table.empty())
      return failed(error, QObject::tr("the %1 view has no series to write as CSV").arg(source.exportName()));
    return writeCsv(table, path, error);
  }
  if (std::unique_ptr<Figure> figure = source.exportFigure()) {
    ExportOptions sized = options;
    const QWidget* widget = source.exportWidget();
    if (sized.width <= 0 && widget) sized.width = widget->width();
    if (sized.height <= 0 && widget) sized.height = widget->height();
    return exportFigure(*figure, path, sized, error);
  }
  if (QCustomPlot* plot = source.exportPlot()) return exportPlot(plot, path, options, error);
  return exportWidget(source.exportWidget(), path, options, error);
}

}  // namespace attnscope::widgets
