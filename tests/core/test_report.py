import numpy as np

from vivid.core.report import Report


def test_report_writes_html_with_images_and_tables(tmp_path):
    r = Report("demo <1>")
    r.section("Interp", "text & more")
    r.image(np.zeros((4, 6, 3), np.uint8), "black")
    r.table([{"method": "blend", "psnr": 27.123456}, {"method": "vivid", "ssim": 0.9}], "scores")
    path = r.save(tmp_path / "report.html")
    page = path.read_text()
    assert "demo &lt;1&gt;" in page and "text &amp; more" in page
    assert "<th>method</th><th>psnr</th><th>ssim</th>" in page and "27.12" in page
    imgs = list((tmp_path / "img").glob("*.png"))
    assert len(imgs) == 1 and f'src="img/{imgs[0].name}"' in page
